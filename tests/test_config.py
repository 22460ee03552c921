"""config.py: App settings from arguments, NEXPRESS_* variables and a .env file, in
that order; value parsers; errors that name the variable and the expected form."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexpress.config import (
    SETTINGS,
    ConfigError,
    export_dotenv,
    load_settings,
    parse_bool,
    parse_duration,
    parse_size,
    parse_trust_proxy,
)

MiB = 1024 * 1024


def settings(tmp_path: Path, env: dict[str, str] | None = None, dotenv: str | None = None, **explicit):
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)
    return load_settings(tmp_path, env or {}, **explicit)


# --- parsers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("true", True), ("YES", True), (" on ", True), ("0", False), ("False", False), ("no", False), ("off", False), (True, True)],
)
def test_parse_bool(text, expected):
    assert parse_bool(text) is expected


@pytest.mark.parametrize("text", ["maybe", "2", "", "tru"])
def test_parse_bool_refuses(text):
    with pytest.raises(ValueError, match="1/0, true/false"):
        parse_bool(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1048576", MiB),
        (2048, 2048),
        ("5MiB", 5 * MiB),
        ("5 mib", 5 * MiB),
        ("512KiB", 512 * 1024),
        ("1.5MiB", int(1.5 * MiB)),
        ("2MB", 2_000_000),
        ("2mb", 2_000_000),
        ("1GiB", 1024 * MiB),
        ("10k", 10_000),
        ("100b", 100),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["5 potatoes", "MiB", "-1", "0", "0.5", "1e6", "five", True, "5MiBs", ""])
def test_parse_size_refuses(text):
    with pytest.raises(ValueError, match="5MiB"):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "expected"), [("30", 30.0), ("30s", 30.0), ("1.5s", 1.5), ("500ms", 0.5), ("2m", 120.0), ("1h", 3600.0), (7, 7.0)]
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["0", "-5", "soon", "5 days", "inf"])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("false", False),
        ("0", False),
        ("1", 1),  # one hop: NOT "trust everyone"
        ("2", 2),
        ("10.0.0.0/8, 127.0.0.1", ["10.0.0.0/8", "127.0.0.1"]),
        ("loopback", ["127.0.0.0/8", "::1/128"]),
        ("uniquelocal,::1", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "::1"]),
        (["10.0.0.1"], ["10.0.0.1"]),
        (3, 3),
        (True, True),
    ],
)
def test_parse_trust_proxy(text, expected):
    assert parse_trust_proxy(text) == expected


@pytest.mark.parametrize("text", ["10.0.0.0/33", "proxy.example", "1.2.3", ",", -1])
def test_parse_trust_proxy_refuses(text):
    with pytest.raises(ValueError, match="number of proxy hops"):
        parse_trust_proxy(text)


# --- resolution order -----------------------------------------------------------------------------


def test_defaults_match_app(tmp_path):
    s = settings(tmp_path)
    assert (s.debug, s.secret, s.cache, s.pubsub, s.trust_proxy) == (False, None, "memory://", "memory://", False)
    assert (s.body_limit, s.file_limit, s.body_timeout) == (MiB, 10 * MiB, 30.0)
    assert (s.pages, s.public, s.views, s.base_url, s.route_header) == ("app", "public", "views", None, False)
    assert s.root == str(tmp_path)
    assert set(s.sources.values()) == {"default"}


def test_environment_is_read(tmp_path):
    s = settings(
        tmp_path,
        {
            "NEXPRESS_DEBUG": "1",
            "NEXPRESS_SECRET": "s3cret",
            "NEXPRESS_BODY_LIMIT": "5MiB",
            "NEXPRESS_FILE_LIMIT": "50MB",
            "NEXPRESS_BODY_TIMEOUT": "10s",
            "NEXPRESS_TRUST_PROXY": "1",
            "NEXPRESS_BASE_URL": "https://blog.example/",
            "NEXPRESS_PUBSUB_URL": "redis://r:6379/1",
            "NEXPRESS_CACHE_URL": "redis://r:6379/0",
        },
    )
    assert s.debug is True and s.route_header is True  # route header follows debug
    assert s.secret == "s3cret"
    assert s.body_limit == 5 * MiB and s.file_limit == 50_000_000 and s.body_timeout == 10.0
    assert s.trust_proxy == 1
    assert s.base_url == "https://blog.example"
    assert s.pubsub == "redis://r:6379/1" and s.cache == "redis://r:6379/0"
    assert s.sources["body_limit"] == "NEXPRESS_BODY_LIMIT (environment variable)"


def test_explicit_arguments_beat_the_environment(tmp_path):
    s = settings(tmp_path, {"NEXPRESS_DEBUG": "1", "NEXPRESS_BODY_LIMIT": "5MiB"}, debug=False, body_limit="2MiB")
    assert s.debug is False and s.body_limit == 2 * MiB
    assert s.sources["debug"] == "App(debug=...)"


def test_none_arguments_mean_not_given(tmp_path):
    s = settings(tmp_path, {"NEXPRESS_DEBUG": "yes"}, debug=None, secret=None)
    assert s.debug is True


def test_environment_beats_the_dotenv_file(tmp_path):
    s = settings(tmp_path, {"NEXPRESS_SECRET": "from-env"}, dotenv="NEXPRESS_SECRET=from-file\nNEXPRESS_DEBUG=on\n")
    assert s.secret == "from-env"
    assert s.debug is True
    assert s.sources["debug"] == f"NEXPRESS_DEBUG (from {tmp_path / '.env'})"


def test_dotenv_syntax(tmp_path):
    dotenv = (
        "# a comment\n"
        "export NEXPRESS_SECRET='quoted # not a comment'\n"
        'NEXPRESS_BASE_URL="https://x.example"\n'
        "NEXPRESS_BODY_LIMIT=3MiB  # trailing comment\n"
        "HOST=cache.internal\n"
        "NEXPRESS_CACHE_URL=redis://${HOST}:6379/0\n"
        "this line is not a statement\n"
    )
    s = settings(tmp_path, dotenv=dotenv)
    assert s.secret == "quoted # not a comment"
    assert s.base_url == "https://x.example"
    assert s.body_limit == 3 * MiB
    assert s.cache == "redis://cache.internal:6379/0"


def test_dotenv_can_be_skipped(tmp_path):
    (tmp_path / ".env").write_text("NEXPRESS_DEBUG=1\n")
    assert load_settings(tmp_path, {}, dotenv=False).debug is False
    assert load_settings(tmp_path, {}).debug is True


def test_cache_url_from_the_environment_overrides_the_argument(tmp_path):
    # SPEC section 4: NEXPRESS_CACHE_URL points a deployment at Redis without code changes
    s = settings(tmp_path, {"NEXPRESS_CACHE_URL": "redis://r/0"}, cache="sqlite:///.nexpress/cache.db")
    assert s.cache == "redis://r/0"
    assert settings(tmp_path, {}, cache="sqlite:///c.db").cache == "sqlite:///c.db"


def test_empty_variables_are_unset(tmp_path):
    s = settings(tmp_path, {"NEXPRESS_SECRET": "", "NEXPRESS_DEBUG": "  "})
    assert s.secret is None and s.debug is False


def test_folders_accept_none(tmp_path):
    s = settings(tmp_path, pages=None, public=None, views=Path("templates"))
    assert (s.pages, s.public, s.views) == (None, None, "templates")


def test_root_may_be_a_file(tmp_path):
    (tmp_path / "server.py").write_text("")
    assert load_settings(tmp_path / "server.py", {}).root == str(tmp_path)


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        ({"NEXPRESS_BODY_LIMIT": "5 potatoes"}, ["NEXPRESS_BODY_LIMIT (environment variable)", "'5 potatoes'", "5MiB"]),
        ({"NEXPRESS_DEBUG": "maybe"}, ["NEXPRESS_DEBUG", "true/false"]),
        ({"NEXPRESS_TRUST_PROXY": "proxy.internal"}, ["NEXPRESS_TRUST_PROXY", "'proxy.internal' is none of these"]),
        ({"NEXPRESS_CACHE_URL": "mongodb://x"}, ["NEXPRESS_CACHE_URL", "redis://"]),
        ({"NEXPRESS_PUBSUB_URL": "sqlite:///x.db"}, ["NEXPRESS_PUBSUB_URL", "redis://"]),
        ({"NEXPRESS_BASE_URL": "example.com"}, ["NEXPRESS_BASE_URL", "absolute URL"]),
        ({"NEXPRESS_BASE_URL": "https://x.example/?a=1"}, ["NEXPRESS_BASE_URL"]),
        ({"NEXPRESS_BODY_TIMEOUT": "forever"}, ["NEXPRESS_BODY_TIMEOUT", "30s"]),
    ],
)
def test_bad_values_name_the_variable_and_the_form(tmp_path, env, fragments):
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, env)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_bad_value_in_dotenv_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"NEXPRESS_FILE_LIMIT \(from .*\.env\) is 'lots'"):
        settings(tmp_path, dotenv="NEXPRESS_FILE_LIMIT=lots\n")


def test_bad_argument_names_the_argument(tmp_path):
    with pytest.raises(ConfigError, match=r"App\(body_limit=\.\.\.\) is '1 tonne'"):
        settings(tmp_path, body_limit="1 tonne")


def test_unknown_argument(tmp_path):
    with pytest.raises(TypeError, match="unknown setting"):
        settings(tmp_path, bodylimit=5)


def test_every_variable_is_prefixed_and_documented():
    for setting in SETTINGS:
        assert setting.env is None or setting.env.startswith("NEXPRESS_")
        assert setting.doc


# --- exporting .env -----------------------------------------------------------------------------


def test_export_dotenv_fills_only_missing_variables(tmp_path):
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///blog.db\nAUTH_SECRET=abc\n")
    environ = {"AUTH_SECRET": "from-the-real-environment"}
    assert export_dotenv(tmp_path, environ) == ["DATABASE_URL"]
    assert environ == {"AUTH_SECRET": "from-the-real-environment", "DATABASE_URL": "sqlite:///blog.db"}
    assert export_dotenv(tmp_path / "nowhere", environ) == []
