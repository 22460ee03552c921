"""nexpress.auth.tokens: JWE session tokens and ID-token validation (pure), plus
passwords and the failed sign-in limiter."""

from __future__ import annotations

import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from nexpress.auth import hash_password, needs_rehash, tokens, verify_password
from nexpress.auth.ratelimit import FailureLimiter
from nexpress.auth.tokens import IdTokenError, decrypt, encrypt, hash_token, validate_id_token

SECRETS = ["k" * 32]


# --- JWE --------------------------------------------------------------------------------


def test_encrypted_tokens_round_trip_and_expire():
    token = encrypt({"sub": "1", "email": "a@x.test"}, SECRETS, "purpose", max_age=60)
    assert token.count(".") == 4  # compact JWE
    claims = decrypt(token, SECRETS, "purpose")
    assert claims["sub"] == "1" and claims["exp"] - claims["iat"] == 60
    assert decrypt(token, SECRETS, "purpose", now=time.time() + 61) is None


def test_tampered_foreign_or_misused_tokens_do_not_decrypt():
    token = encrypt({"sub": "1"}, SECRETS, "purpose", max_age=60)
    head, key, iv, body, tag = token.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in (
        ".".join((head, key, iv, flipped, tag)),
        token[:-3] + "abc",
        token + "x",
        "not.a.token",
        "",
        None,
        "a" * 10_000,
    ):
        assert decrypt(bad, SECRETS, "purpose") is None
    assert decrypt(token, ["another-secret-of-32-characters!"], "purpose") is None
    assert decrypt(token, SECRETS, "another purpose") is None  # keys differ per purpose


def test_secret_rotation_decrypts_with_any_secret():
    old = encrypt({"sub": "1"}, ["old-secret-0123456789abcdef"], "p", 60)
    assert decrypt(old, ["new-secret-0123456789abcdef", "old-secret-0123456789abcdef"], "p")["sub"] == "1"


def test_hash_token_depends_on_the_secret():
    assert hash_token("t", "a") != hash_token("t", "b") and len(hash_token("t", "a")) == 64


# --- ID tokens ----------------------------------------------------------------------------

ISSUER = "https://id.example"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
JWKS = {"keys": [KEY.as_dict(private=False)]}


def id_token(key=KEY, alg="RS256", **changes):
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "client", "sub": "user-1", "iat": now, "exp": now + 300, "nonce": "n0nce"}
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": "k1"}, claims, key, algorithms=[alg])


def check(token, **options):
    return validate_id_token(token, jwks=JWKS, issuer=ISSUER, client_id="client", nonce="n0nce", algorithms=["RS256"], **options)


def test_a_valid_id_token_passes():
    assert check(id_token())["sub"] == "user-1"
    assert check(id_token(aud=["client", "other"], azp="client"))["sub"] == "user-1"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"iss": "https://evil.example"}, "iss"),
        ({"aud": "someone-else"}, "aud"),
        ({"aud": ["client", "other"]}, "azp"),
        ({"nonce": "other"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"exp": None}, "exp"),
        ({"iat": int(time.time()) + 3600}, "iat"),
        ({"sub": None}, "sub"),
    ],
)
def test_id_token_claims_are_checked(changes, message):
    with pytest.raises(IdTokenError, match=message):
        check(id_token(**changes))


def test_id_token_signatures_and_algorithms_are_checked():
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(IdTokenError, match="signature"):
        check(id_token(key=other))
    unsigned = id_token().rsplit(".", 1)[0].split(".")
    none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
    with pytest.raises(IdTokenError, match="none"):
        check(f"{none_header}.{unsigned[1]}.")
    hs = id_token(key=OctKey.import_key(b"client-secret-client-secret-1234"), alg="HS256")
    with pytest.raises(IdTokenError, match="HS256"):
        check(hs)  # the provider did not announce HS256
    assert validate_id_token(
        hs, jwks=JWKS, issuer=ISSUER, client_id="client", nonce="n0nce", algorithms=["HS256"], client_secret="client-secret-client-secret-1234"
    )["sub"] == "user-1"
    for garbage in ("", "a.b", "a.b.c", "x" * 9000):
        with pytest.raises(IdTokenError):
            check(garbage)


# --- passwords and the limiter ---------------------------------------------------------------


def test_passwords_are_argon2id_and_verified_in_argon2_order():
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong")
    assert not verify_password("not a hash", "correct horse")
    assert not verify_password(stored, None)  # type: ignore[arg-type]
    assert not needs_rehash(stored)
    with pytest.raises(ValueError):
        hash_password("")


def test_failure_limiter_blocks_after_the_limit_and_forgets_after_the_window():
    limiter = FailureLimiter(limit=3, window=60)
    keys = ["ip:1.2.3.4", "account:alice"]
    for _ in range(3):
        assert limiter.retry_after(keys, now=100) == 0
        limiter.failed(keys, now=100)
    assert 0 < limiter.retry_after(keys, now=100) <= 61
    assert limiter.retry_after(["account:alice"], now=100) > 0
    assert limiter.retry_after(["account:bob"], now=100) == 0
    assert limiter.retry_after(keys, now=161) == 0
    limiter.failed(keys, now=200)
    limiter.succeeded(["account:alice"])
    assert limiter.retry_after(["account:alice"], now=200) == 0


def test_signed_session_ids_refuse_anything_not_made_with_the_key():
    key, other = tokens.mac_key("k" * 32, "nexpress.session-id"), tokens.mac_key("o" * 32, "nexpress.session-id")
    value = tokens.sign_id("A" * 43, key)
    assert tokens.signed_id(value, key) and not tokens.signed_id(value, other)
    ident, _, mac = value.rpartition(".")
    assert not tokens.signed_id(ident + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B"), key)
    assert not tokens.signed_id("B" * 43 + "." + mac, key)
    for bad in ("", "A" * 43, "." * 70, "A" * 43 + ".é" * 11, "A" * 5000 + "." + mac, ident + "." + mac + "x"):
        assert not tokens.signed_id(bad, key), bad
