"""/login: the course's sign-in form. It posts to nexpress.auth's credentials callback
(``/api/auth/callback/credentials``, as Auth.js's ``signIn`` does); a failed attempt
comes back here with ``?error=CredentialsSignin`` and shows "Invalid credentials."."""

from typing import Any

from nexpress import Request

dynamic = True  # reads ?callbackUrl and ?error
metadata = {"title": "Login"}

MESSAGES = {"CredentialsSignin": "Invalid credentials."}


async def data(req: Request) -> dict[str, Any]:
    error = req.query.get("error")
    callback = req.query.get("callbackUrl") or "/dashboard"
    if not callback.startswith("/") or callback.startswith("//"):
        callback = "/dashboard"  # the auth callback refuses other sites anyway
    message = MESSAGES.get(error, "Something went wrong.") if error else None
    return {"callback_url": callback, "error_message": message}
