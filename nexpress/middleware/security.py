"""``security_headers()``: helmet's protective response headers.

    app.use(security_headers())                                   # helmet's defaults
    app.use(security_headers(csp={"script-src": ["'self'", "https://cdn.example"]}))
    app.use(security_headers(csp=False, frame_options="DENY"))

Every header is an argument: a string replaces the default value, ``False``
leaves the header out. The headers are built once, at start-up, and set before
the handler runs, so error pages carry them too and a handler can still
override one with ``res.set``.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from .chain import Middleware

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

__all__ = ["DEFAULT_CSP", "SecurityHeaders", "build_csp", "security_headers"]

DirectiveValue = str | Iterable[str] | bool | None

#: helmet 8's default Content-Security-Policy directives.
DEFAULT_CSP: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "base-uri": ("'self'",),
    "font-src": ("'self'", "https:", "data:"),
    "form-action": ("'self'",),
    "frame-ancestors": ("'self'",),
    "img-src": ("'self'", "data:"),
    "object-src": ("'none'",),
    "script-src": ("'self'",),
    "script-src-attr": ("'none'",),
    "style-src": ("'self'", "https:", "'unsafe-inline'"),
    "upgrade-insecure-requests": (),
}

# keywords that only mean something quoted ('self'); unquoted they name a host
_MUST_QUOTE = frozenset(
    (
        "none", "self", "strict-dynamic", "report-sample", "inline-speculation-rules",
        "unsafe-inline", "unsafe-eval", "unsafe-hashes", "wasm-unsafe-eval",
    )
)  # fmt: skip
_NONCE_DIRECTIVES = ("script-src", "style-src")
_NONCE_MARK = "{nonce}"


def _directive_name(name: str) -> str:
    """``scriptSrc`` (helmet's camel case) or ``script-src`` -> ``script-src``."""
    dashed = "".join("-" + c.lower() if c.isupper() else c for c in name)
    if not dashed or not all(c.isalnum() or c == "-" for c in dashed):
        raise ValueError(f"security_headers(csp=...): {name!r} is not a directive name")
    return dashed


def _directive_values(name: str, value: DirectiveValue) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value) if value is not True else ()
    for item in items:
        if not isinstance(item, str) or any(c in item for c in ";,\r\n\x00"):
            raise ValueError(
                f"security_headers(csp=...): {name} value {item!r} cannot contain ';', ',' or"
                " line breaks"
            )
        if item in _MUST_QUOTE or item.startswith(("nonce-", "sha256-", "sha384-", "sha512-")):
            raise ValueError(
                f"security_headers(csp=...): {name} value {item!r} must be quoted: \"'{item}'\""
            )
    return items


def build_csp(directives: Mapping[str, DirectiveValue] | None, *, defaults: bool = True) -> dict[str, tuple[str, ...]]:
    """Merge ``directives`` over helmet's defaults (``defaults=False``: only yours).

    A directive's value is a string, a list of strings, ``True`` (a directive
    without value, e.g. ``upgrade-insecure-requests``) or ``None``/``False``
    (remove it). Raises ``ValueError`` on anything that could break the header.
    """
    merged: dict[str, tuple[str, ...]] = dict(DEFAULT_CSP) if defaults else {}
    for raw_name, value in (directives or {}).items():
        name = _directive_name(raw_name)
        if value is None or value is False:
            merged.pop(name, None)
        else:
            merged[name] = _directive_values(name, value)
    if "default-src" not in merged and defaults:
        raise ValueError(
            "security_headers(csp=...): removing default-src leaves everything allowed;"
            " set it to the sources you want, or pass csp_defaults=False to build the policy"
            " from scratch"
        )
    return merged


def format_csp(directives: Mapping[str, tuple[str, ...]]) -> str:
    """The header value: ``name value value;name ...``."""
    return ";".join(" ".join((name, *values)) for name, values in directives.items())


def _hsts_value(hsts: bool | str | Mapping[str, object]) -> str | None:
    if hsts is False:
        return None
    if isinstance(hsts, str):
        return hsts
    options = {} if hsts is True else dict(hsts)
    max_age = options.pop("max_age", 31536000)
    include = options.pop("include_subdomains", True)
    preload = options.pop("preload", False)
    if options:
        raise ValueError(
            f"security_headers(hsts=...): unknown option(s) {sorted(options)}; use max_age,"
            " include_subdomains, preload"
        )
    if not isinstance(max_age, int) or max_age < 0:
        raise ValueError(f"security_headers(hsts=...): max_age must be seconds (int >= 0), not {max_age!r}")
    value = f"max-age={max_age}"
    if include:
        value += "; includeSubDomains"
    if preload:
        value += "; preload"
    return value


class SecurityHeaders(Middleware):
    """The middleware ``security_headers()`` returns (see the module docstring)."""

    def __init__(
        self,
        headers: list[tuple[str, str]],
        hsts: str | None,
        hsts_on_http: bool,
        nonce_header: tuple[str, str] | None,
    ) -> None:
        self.headers = headers
        self.hsts = hsts
        self.hsts_on_http = hsts_on_http
        self.nonce_header = nonce_header

    async def __call__(self, req: Request, res: Response, next: Callable[..., Awaitable[None]]) -> None:
        present = {name for name, _ in res.headers}  # usually none: append is 3x cheaper than set
        for name, value in self.headers:
            if name in present:
                res.set(name, value)
            else:
                res.append(name, value)
        if self.hsts is not None and (self.hsts_on_http or req.secure):
            res.set("strict-transport-security", self.hsts)
        if self.nonce_header is not None:
            nonce = secrets.token_urlsafe(16)
            req.state.csp_nonce = nonce
            name, template = self.nonce_header
            res.set(name, template.replace(_NONCE_MARK, nonce))
        await next()

    def __repr__(self) -> str:
        return f"security_headers({len(self.headers)} headers)"


def security_headers(
    *,
    csp: Mapping[str, DirectiveValue] | str | bool = True,
    csp_defaults: bool = True,
    csp_report_only: bool = False,
    csp_nonce: bool = False,
    hsts: bool | str | Mapping[str, object] = True,
    hsts_on_http: bool = False,
    frame_options: str | bool = "SAMEORIGIN",
    referrer_policy: str | Iterable[str] | bool = "no-referrer",
    content_type_options: bool = True,
    cross_origin_opener_policy: str | bool = "same-origin",
    cross_origin_resource_policy: str | bool = "same-origin",
    cross_origin_embedder_policy: str | bool = False,
    origin_agent_cluster: bool = True,
    dns_prefetch_control: str | bool = "off",
    download_options: bool = True,
    permitted_cross_domain_policies: str | bool = "none",
    xss_protection: str | bool = "0",
) -> SecurityHeaders:
    """helmet's headers (replaces Express's ``helmet`` package), each overridable.

    ``csp``: ``True`` (helmet's default policy), a dict of directives merged over
    it (``csp_defaults=False``: yours only; a directive set to ``None`` is
    removed), a literal header string, or ``False``. ``csp_report_only`` sends
    ``Content-Security-Policy-Report-Only``. ``csp_nonce=True`` adds a fresh
    ``'nonce-...'`` to ``script-src`` and ``style-src`` per request, readable as
    ``req.state.csp_nonce`` (``<script nonce="{{ req.state.csp_nonce }}">``).

    ``hsts``: ``True`` (one year, includeSubDomains), a dict (``max_age``,
    ``include_subdomains``, ``preload``), a literal string, or ``False``; sent on
    HTTPS requests only (``req.secure``, which honours ``App(trust_proxy=...)``)
    unless ``hsts_on_http=True``.

    The others take the header's value as a string (``frame_options="DENY"``) or
    ``False`` to leave it out (``dns_prefetch_control="on"`` allows prefetching).
    """
    headers: list[tuple[str, str]] = []
    nonce_header: tuple[str, str] | None = None
    csp_name = "content-security-policy-report-only" if csp_report_only else "content-security-policy"
    if csp is not False:
        if isinstance(csp, str):
            if csp_nonce:
                raise ValueError("security_headers(csp_nonce=True) needs csp as a dict (or True), not a string")
            headers.append((csp_name, csp))
        else:
            directives = build_csp(None if csp is True else csp, defaults=csp_defaults)
            if csp_nonce:
                for name in _NONCE_DIRECTIVES:
                    base = directives.get(name) or directives.get("default-src") or ("'self'",)
                    directives[name] = (*base, f"'nonce-{_NONCE_MARK}'")
                nonce_header = (csp_name, format_csp(directives))
            else:
                headers.append((csp_name, format_csp(directives)))
    if cross_origin_embedder_policy:
        headers.append(("cross-origin-embedder-policy", str(cross_origin_embedder_policy)))
    for name, value in (
        ("cross-origin-opener-policy", cross_origin_opener_policy),
        ("cross-origin-resource-policy", cross_origin_resource_policy),
    ):
        if value:
            headers.append((name, str(value)))
    if origin_agent_cluster:
        headers.append(("origin-agent-cluster", "?1"))
    if referrer_policy:
        policy = referrer_policy if isinstance(referrer_policy, str) else ",".join(referrer_policy)  # type: ignore[arg-type]
        headers.append(("referrer-policy", policy))
    if content_type_options:
        headers.append(("x-content-type-options", "nosniff"))
    if dns_prefetch_control:
        headers.append(("x-dns-prefetch-control", str(dns_prefetch_control)))
    if download_options:
        headers.append(("x-download-options", "noopen"))
    if frame_options:
        value = str(frame_options).upper()
        if value not in ("SAMEORIGIN", "DENY"):
            raise ValueError(
                f"security_headers(frame_options={frame_options!r}): use 'SAMEORIGIN', 'DENY' or"
                " False (ALLOW-FROM is obsolete: use the CSP frame-ancestors directive)"
            )
        headers.append(("x-frame-options", value))
    if permitted_cross_domain_policies:
        headers.append(("x-permitted-cross-domain-policies", str(permitted_cross_domain_policies)))
    if xss_protection:
        headers.append(("x-xss-protection", str(xss_protection)))
    for name, value in headers:
        if any(c in value for c in "\r\n\x00"):
            raise ValueError(f"security_headers: the {name} value contains a line break")
    return SecurityHeaders(headers, _hsts_value(hsts), hsts_on_http, nonce_header)
