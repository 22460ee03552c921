"""Settings for ``App``: explicit arguments, then ``NEXPRESS_*`` environment
variables, then a ``.env`` file in the app root, then defaults.

    settings = load_settings("/srv/app", debug=None, body_limit="5MiB")
    settings.body_limit        # 5242880
    settings.sources["body_limit"]   # "App(body_limit=...)"

Pure and separately testable: nothing here reads ``os.environ`` unless it is
passed in (the default), and nothing is written to it (see :func:`export_dotenv`
for that). A bad value raises :class:`ConfigError` naming where it came from
(the argument, the variable, or the ``.env`` file) and the form expected.

Two exceptions to "arguments first", from the SPEC (sections 4 and 9): the URLs in
``NEXPRESS_CACHE_URL`` and ``NEXPRESS_PUBSUB_URL`` override ``App(cache=...)`` and
``App(pubsub=...)``, so a deployment can point every instance at Redis without
editing the code.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "SETTINGS",
    "ConfigError",
    "Setting",
    "Settings",
    "export_dotenv",
    "load_settings",
    "parse_bool",
    "parse_duration",
    "parse_size",
    "parse_trust_proxy",
]

MiB = 1024 * 1024


class ConfigError(ValueError):
    """A setting has a value of the wrong form; the message names the source and the fix."""


# --- value parsers (pure; each raises ValueError with the expected form) ----------------------

_TRUE = frozenset(("1", "true", "yes", "on"))
_FALSE = frozenset(("0", "false", "no", "off"))


def parse_bool(value: Any) -> bool:
    """``1/0``, ``true/false``, ``yes/no``, ``on/off`` (any case), or a bool."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("a boolean: 1/0, true/false, yes/no or on/off")


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*\Z", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1, "b": 1,
    "kib": 1024, "mib": MiB, "gib": 1024 * MiB,
    "k": 1000, "kb": 1000, "mb": 1000**2, "m": 1000**2, "gb": 1000**3, "g": 1000**3,
}  # fmt: skip
_SIZE_FORM = "a size: a number of bytes, or a number with a unit, e.g. 5MiB, 512KiB, 2MB"


def parse_size(value: Any) -> int:
    """Bytes from ``5242880``, ``5MiB``, ``512 KiB``, ``1.5MB``: ``KiB/MiB/GiB`` are
    powers of 1024, ``kB/MB/GB`` powers of 1000 (units in any case)."""
    if isinstance(value, bool):
        raise ValueError(_SIZE_FORM)
    if isinstance(value, int):
        number: float = value
    else:
        match = _SIZE.match(str(value))
        if not match or match.group(2).lower() not in _SIZE_UNITS:
            raise ValueError(_SIZE_FORM)
        number = float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    if number < 1:
        raise ValueError(_SIZE_FORM + " (greater than zero)")
    return int(number)


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*\Z", re.IGNORECASE)
_DURATION_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float:
    """Seconds from ``30``, ``30s``, ``1.5s``, ``500ms``, ``2m``, ``1h``."""
    if isinstance(value, bool):
        raise ValueError("a duration: seconds, or a number with ms, s, m or h, e.g. 30s")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError("a duration: seconds, or a number with ms, s, m or h, e.g. 30s")
        unit = match.group(2).lower() if match.group(2) else None
        seconds = float(match.group(1)) * _DURATION_UNITS[unit]
    if not seconds > 0 or math.isinf(seconds):
        raise ValueError("a duration greater than zero, e.g. 30s")
    return seconds


# Express's named proxy ranges (proxy-addr)
_NAMED_NETWORKS = {
    "loopback": ("127.0.0.0/8", "::1/128"),
    "linklocal": ("169.254.0.0/16", "fe80::/10"),
    "uniquelocal": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"),
}
_TRUST_FORM = (
    "true/false, a number of proxy hops (e.g. 1), or a comma-separated list of proxy"
    " addresses/networks (e.g. 10.0.0.0/8, 127.0.0.1, loopback, uniquelocal)"
)


def parse_trust_proxy(value: Any) -> bool | int | list[str]:
    """``App(trust_proxy=...)`` from text as well: ``true``/``false``; digits are a
    hop count (``1`` trusts one proxy, not every one); otherwise addresses,
    networks or Express's names ``loopback``, ``linklocal``, ``uniquelocal``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value < 0:
            raise ValueError(_TRUST_FORM)
        return value or False
    if not isinstance(value, str):
        networks = [str(item) for item in value]
    else:
        text = value.strip()
        lowered = text.lower()
        if lowered in ("true", "yes", "on"):
            return True
        if lowered in ("false", "no", "off", ""):
            return False
        if text.isascii() and text.isdigit():
            return int(text) or False
        networks = [item.strip() for item in text.split(",") if item.strip()]
    expanded: list[str] = []
    for item in networks:
        named = _NAMED_NETWORKS.get(item.lower())
        if named:
            expanded.extend(named)
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{_TRUST_FORM}; {item!r} is none of these") from None
        expanded.append(item)
    if not expanded:
        raise ValueError(_TRUST_FORM)
    return expanded


def _store_url(schemes: tuple[str, ...], example: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip()
        scheme = text.split("://", 1)[0].lower() if "://" in text else ""
        if scheme not in schemes:
            raise ValueError(f"a URL starting with {', '.join(s + '://' for s in schemes)} (e.g. {example})")
        return text

    return parse


parse_cache_url = _store_url(("memory", "sqlite", "redis", "rediss", "unix"), "redis://127.0.0.1:6379/0")
parse_pubsub_url = _store_url(("memory", "redis", "rediss", "unix"), "redis://127.0.0.1:6379/0")


def parse_base_url(value: Any) -> str:
    """An absolute ``http(s)://host[:port][/path]`` URL, without query or fragment;
    the trailing slash is dropped."""
    text = str(value).strip()
    form = "an absolute URL such as https://example.com or https://example.com/app"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ValueError(form) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(form)
    return text.rstrip("/")


def parse_secret(value: Any) -> str | None:
    text = str(value)
    if not text.strip():
        return None  # empty means unset, as with an empty variable
    if any(c in text for c in "\r\n\x00"):
        raise ValueError("a secret without line breaks or NUL")
    return text


def parse_optional_bool(value: Any) -> bool | None:
    return None if value is None else parse_bool(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# --- the table of settings ---------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One ``App`` setting: its argument name, its variable (None: argument only),
    its parser and default, and whether the variable beats the argument."""

    name: str
    env: str | None
    parse: Callable[[Any], Any]
    default: Any
    env_wins: bool = False
    doc: str = ""


SETTINGS: tuple[Setting, ...] = (
    Setting("debug", "NEXPRESS_DEBUG", parse_bool, False, doc="debug error pages, route header, template reload"),
    Setting("secret", "NEXPRESS_SECRET", parse_secret, None, doc="signs cookies (res.cookie(signed=True), sessions)"),
    Setting("cache", "NEXPRESS_CACHE_URL", parse_cache_url, "memory://", env_wins=True, doc="cache store URL"),
    Setting("pubsub", "NEXPRESS_PUBSUB_URL", parse_pubsub_url, "memory://", env_wins=True, doc="publish/subscribe broker URL"),
    Setting("trust_proxy", "NEXPRESS_TRUST_PROXY", parse_trust_proxy, False, doc="which proxies' X-Forwarded-* to believe"),
    Setting("route_header", "NEXPRESS_ROUTE_HEADER", parse_optional_bool, None, doc="send x-nexpress-route (default: on in debug)"),
    Setting("body_limit", "NEXPRESS_BODY_LIMIT", parse_size, MiB, doc="largest request body (413 past it)"),
    Setting("file_limit", "NEXPRESS_FILE_LIMIT", parse_size, 10 * MiB, doc="largest uploaded file"),
    Setting("body_timeout", "NEXPRESS_BODY_TIMEOUT", parse_duration, 30.0, doc="seconds without body data before 408"),
    Setting("body_deadline", "NEXPRESS_BODY_DEADLINE", parse_duration, 300.0, doc="seconds for a whole request body before 408"),
    Setting("base_url", "NEXPRESS_BASE_URL", parse_base_url, None, doc="the public URL (absolute links, auth callbacks)"),
    Setting("pages", None, _text, "app", doc="file-routes folder (None: none)"),
    Setting("public", None, _text, "public", doc="static files folder served at / (None: none)"),
    Setting("views", None, str, "views", doc="templates for res.render"),
)
_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Every resolved ``App`` setting, plus where each one came from."""

    root: str
    debug: bool
    secret: str | None
    cache: str
    pubsub: str
    trust_proxy: bool | int | list[str]
    route_header: bool
    body_limit: int
    file_limit: int
    body_timeout: float
    body_deadline: float
    base_url: str | None
    pages: str | None
    public: str | None
    views: str
    sources: dict[str, str] = field(default_factory=dict, compare=False)


def _origin_label(setting: Setting, where: str, dotenv_path: str) -> str:
    if where == "argument":
        return f"App({setting.name}=...)"
    if where == "dotenv":
        return f"{setting.env} (from {dotenv_path})"
    return f"{setting.env} (environment variable)"


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and value.strip() == "")


def _resolve(
    setting: Setting, explicit: Mapping[str, Any], environ: Mapping[str, str], dotenv: Mapping[str, str | None], dotenv_path: str
) -> tuple[Any, str]:
    """(parsed value, where it came from) for one setting."""
    argument = ("argument", explicit.get(setting.name))
    variable = ("environment", environ.get(setting.env) if setting.env else None)
    from_file = ("dotenv", dotenv.get(setting.env) if setting.env else None)
    order = (variable, from_file, argument) if setting.env_wins else (argument, variable, from_file)
    for where, raw in order:
        if not _present(raw):
            continue
        label = _origin_label(setting, where, dotenv_path)
        try:
            return setting.parse(raw), label
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{label} is {raw!r}, which is not valid: expected {exc}") from None
    return setting.default, "default"


def read_dotenv(root: str) -> tuple[dict[str, str | None], str]:
    """The ``.env`` file of ``root`` (python-dotenv: quotes, ``export``, comments and
    ``${VAR}`` interpolation), or {} when there is none."""
    path = os.path.join(root, ".env")
    if not os.path.isfile(path):
        return {}, path
    from dotenv import dotenv_values  # loaded only for an app that has a .env file

    return dict(dotenv_values(path)), path


def load_settings(root: str | os.PathLike[str] = ".", environ: Mapping[str, str] | None = None, *, dotenv: bool = True, **explicit: Any) -> Settings:
    """Resolve every ``App`` setting: explicit (non-None) arguments, then
    ``NEXPRESS_*`` variables from ``environ`` (default ``os.environ``), then the
    ``.env`` file in ``root`` (``dotenv=False`` skips it), then the defaults.

    Raises :class:`ConfigError` for a bad value and ``TypeError`` for an unknown
    argument name.
    """
    unknown = sorted(set(explicit) - set(_BY_NAME))
    if unknown:
        raise TypeError(f"load_settings() got unknown setting(s) {unknown}; known: {sorted(_BY_NAME)}")
    root_path = os.path.abspath(os.fspath(root))
    if os.path.isfile(root_path):  # App(root=__file__): its folder
        root_path = os.path.dirname(root_path)
    env = os.environ if environ is None else environ
    file_values, dotenv_path = read_dotenv(root_path) if dotenv else ({}, "")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        if setting.env is None and setting.name in explicit:
            # folders: None is meaningful here (no file routes), so an argument is taken as given
            given = explicit[setting.name]
            values[setting.name] = None if given is None else setting.parse(os.fspath(given))
            sources[setting.name] = _origin_label(setting, "argument", dotenv_path)
            continue
        values[setting.name], sources[setting.name] = _resolve(setting, explicit, env, file_values, dotenv_path)
    if values["route_header"] is None:
        values["route_header"] = values["debug"]
    return Settings(root=root_path, sources=sources, **values)


def export_dotenv(root: str | os.PathLike[str] = ".", environ: Any = None) -> list[str]:
    """Copy the ``.env`` file's variables into ``environ`` (default ``os.environ``)
    where they are not already set, as Next.js does, so application code reading
    ``os.environ["DATABASE_URL"]`` sees them. Returns the names it set. Meant for
    the CLI, before it imports the app."""
    target = os.environ if environ is None else environ
    values, _ = read_dotenv(os.path.abspath(os.fspath(root)))
    added = []
    for name, value in values.items():
        if value is not None and name not in target:
            target[name] = value
            added.append(name)
    return added
