"""docs/auth.md: ``Auth`` with providers and callbacks, ``req.auth``, ``auth.required``, CSRF."""

from __future__ import annotations

from typing import Any

from nexpress import App, Request, Response
from nexpress.auth import (
    OIDC,
    Auth,
    Credentials,
    Email,
    GitHub,
    Google,
    Session,
    hash_password,
    verify_password_async,
)
from nexpress.auth.urls import same_origin
from nexpress.http import csrf
from nexpress.middleware import csrf as csrf_middleware

HASHES = {"demo@example.com": hash_password("demo")}


async def check_password(credentials: dict[str, str]) -> dict[str, Any] | None:
    email = credentials.get("email", "")
    if await verify_password_async(HASHES.get(email), credentials.get("password", "")):
        return {"id": email, "name": "Demo", "email": email}
    return None


async def send_magic_link(email: str, url: str) -> None:
    print(f"to {email}: {url}")


async def jwt(token: dict[str, Any], user: dict[str, Any] | None = None, **details: Any) -> dict[str, Any] | None:
    if user:
        token["role"] = "admin" if user["id"] == "1" else "user"
    return token


async def session(session: Session, token: dict[str, Any] | None = None, user: Any = None) -> Session:
    session.user.role = token["role"] if token else "user"  # callbacks may add attributes
    return session


async def on_sign_in(user: dict[str, Any], is_new_user: bool) -> None:
    """Events and callbacks get the keyword arguments they declare."""
    print("welcome" if is_new_user else "welcome back", user["id"])


async def redirect(url: str, base_url: str) -> str | None:
    return same_origin(url, base_url) or (url if url.startswith("https://partner.example/") else None)


app = App(pages=None, public=None)
auth = Auth(
    providers=[
        GitHub(client_id="id", client_secret="secret"),
        Google(client_id="id", client_secret="secret"),
        OIDC(id="corp", issuer="https://id.example.com", client_id="id", client_secret="secret"),
        Credentials(authorize=check_password),
        Email(send=send_magic_link),
    ],
    db="sqlite:///auth.db",
    session="jwt",
    secret="x" * 32,
    callbacks={"jwt": jwt, "session": session, "redirect": redirect},
    on_sign_in=on_sign_in,
)
app.use(auth)


@app.get("/me", auth.required)  # 401 (or a redirect to sign-in) without a session
async def me(req: Request) -> dict[str, Any]:
    signed_in = req.auth  # a Session, or None when signed out
    if signed_in is None:
        return {}
    return {"email": signed_in.user.email, "role": signed_in.user.role, "expires": signed_in.expires.isoformat()}


@app.get("/whoami")
async def whoami(req: Request) -> dict[str, str | None]:
    return {"email": req.auth.user.email if req.auth else None}


app.use("/forms", csrf_middleware())


@app.post("/custom")
async def custom(req: Request, res: Response) -> str:
    token = csrf.token_for(req, res)
    await csrf.check_request(req)
    return csrf.hidden_input(token)
