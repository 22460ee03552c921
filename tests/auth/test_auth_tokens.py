"""nexpress.auth.tokens: JWE session tokens and ID-token validation (pure), plus
passwords and the failed sign-in limiter."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time

import pytest
from argon2 import PasswordHasher
from conftest import free_port
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from nexpress.auth import (
    hash_password,
    needs_rehash,
    verify_password,
    verify_password_async,
)
from nexpress.auth.ratelimit import FailureLimiter, address_key
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


def test_unknown_users_cost_one_argon2_verification_like_known_ones(monkeypatch):
    stored = hash_password("correct horse")
    verified = []
    real = PasswordHasher.verify

    def counting(self, hash, password):
        verified.append((hash, threading.get_ident()))
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    assert not verify_password(None, "correct horse")  # no such user: a dummy hash is verified
    assert len(verified) == 1 and verified[0][0].startswith("$argon2id$") and verified[0][0] != stored
    assert asyncio.run(verify_password_async(stored, "correct horse"))
    assert not asyncio.run(verify_password_async(None, "anything"))
    assert len(verified) == 3
    assert verified[2][0] == verified[0][0]  # one dummy hash, made once
    assert verified[1][1] != threading.get_ident()  # off the event loop's thread


def test_addresses_are_counted_as_ipv4_or_ipv6_64_networks():
    assert address_key("203.0.113.7") == "203.0.113.7"
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_key("2001:db8:1:2::1") == address_key("2001:DB8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("fe80::1%eth0") == "fe80::/64"
    assert address_key("unix:/run/app.sock") == "unix:/run/app.sock"


def test_failure_limiter_counts_before_the_check_and_takes_back_a_success():
    limiter = FailureLimiter(limit=3, window=60)
    slept = []

    async def fake_sleep(seconds):
        slept.append(seconds)

    limiter.sleep = fake_sleep

    async def scenario():
        admitted = [await limiter.admit("10.0.0.1", "credentials", "alice") for _ in range(4)]
        assert [a.retry_after for a in admitted[:3]] == [0, 0, 0]  # counted as failures until taken back
        assert 0 < admitted[3].retry_after <= 120
        assert (await limiter.admit("10.0.0.2", "credentials", "bob")).retry_after == 0  # other pairs are free
        elsewhere = await limiter.admit("10.0.0.3", "credentials", "alice")
        assert elsewhere.retry_after == 0 and elsewhere.slowed and slept == [limiter.slow_down]
        await limiter.succeeded(elsewhere)
        ok = await limiter.admit("10.0.0.2", "credentials", "bob")
        await limiter.succeeded(ok)  # bob's pair starts over: three more tries
        again = [await limiter.admit("10.0.0.2", "credentials", "bob") for _ in range(4)]
        assert [a.retry_after == 0 for a in again] == [True, True, True, False]

    asyncio.run(scenario())


def test_the_limiter_counts_in_this_process_while_its_redis_is_down(caplog):
    limiter = FailureLimiter(limit=2, window=60, store=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    assert limiter.shared

    async def scenario():
        return [(await limiter.admit("10.0.0.1", "credentials", "alice")).retry_after for _ in range(3)]

    with caplog.at_level(logging.WARNING, logger="nexpress.auth"):
        waits = asyncio.run(scenario())
    assert waits[:2] == [0, 0] and waits[2] > 0  # fail over, never open
    assert len([r for r in caplog.records if "store unavailable" in r.getMessage()]) == 1
