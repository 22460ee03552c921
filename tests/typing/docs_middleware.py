"""docs/middleware.md: the batteries (logger, security_headers, cors, compress,
rate_limit, sessions, csrf) and middleware classes."""

from __future__ import annotations

import logging
import re
import sys

from nexpress import App, Middleware, Next, Request, Response, redirect
from nexpress.middleware import compress, cors, csrf, logger, rate_limit, security_headers, sessions

app = App(pages=None, public=None, trust_proxy=["10.0.0.0/8"], secret="x" * 32)
app.use(logger("combined"))
app.use(logger("dev"))
app.use(logger("json", stream=sys.stdout))
app.use(logger("combined", stream=logging.getLogger("access"), skip=lambda req, res: req.path == "/healthz"))
app.use(security_headers())
app.use(security_headers(csp={"script-src": ["'self'", "https://cdn.example"], "img-src": "*"}))
app.use(security_headers(csp=False, frame_options="DENY", referrer_policy="same-origin"))
app.use(security_headers(csp_nonce=True))
app.use(cors())
app.use(cors(origins=["https://app.example", "http://localhost:5173"], credentials=True))
app.use(cors(origins=re.compile(r"https://[a-z0-9-]+\.example\.com")))
app.use(cors(origins=lambda origin, req: origin.endswith(".partner.example")))
app.use(compress())
app.use(compress(min_size=512, level=9, brotli=False))
app.use("/api", rate_limit(limit=100, window=60))
app.use("/login", rate_limit(limit=5, window=300, algorithm="sliding", name="login"))
app.use(rate_limit(key=lambda req: req.get("x-api-key") or req.ip, skip=lambda req: req.path == "/healthz"))
app.use(sessions(secret="x" * 32))
app.use(csrf())


class RequestId(Middleware):
    """A middleware class: ``app.use`` and route declarations take its instances."""

    async def __call__(self, req: Request, res: Response, next: Next) -> None:
        req.state.request_id = req.get("x-request-id") or "-"
        await next()
        res.set("x-request-id", req.state.request_id)


app.use(RequestId())


async def check(email: str, password: str) -> str | None:
    return "7" if password else None


@app.post("/login", rate_limit(limit=5, window=60))  # a battery as route middleware
async def login(req: Request) -> Response:
    form = await req.form()
    email, password = form.get("email", ""), form.get("password", "")
    if not isinstance(email, str) or not isinstance(password, str):
        return redirect("/login")
    user_id = await check(email, password)
    if user_id is None:
        return redirect("/login?failed=1")
    req.session.regenerate()
    req.session["user_id"] = user_id
    return redirect("/")


@app.post("/logout")
async def logout(req: Request) -> Response:
    req.session.destroy()
    return redirect("/")


@app.get("/form")
async def form(req: Request, res: Response) -> Response:
    return res.render("form.html", token=req.state.csrf_token)
