"""Internationalisation (SPEC section 12): locale negotiation as pure functions (URL,
cookie, Accept-Language q-values, unknown locales, hostile headers), the routes an
app with locales gets (redirects, Vary, no loop for clients without
Accept-Language), per-locale cache keys and prerendering, revalidate_path across
locales, sitemap and <head> hreflang alternates, Babel catalogs extracted, created,
updated and compiled by the CLI in a fresh project, plural forms and formatting."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import write_files

from nexpress import App, Router
from nexpress.build import prerender, targets
from nexpress.cli.commands import main
from nexpress.http.locales import (
    I18nConfig,
    I18nConfigError,
    negotiate,
    parse_accept_language,
    split_locale,
)
from nexpress.i18n import (
    format_currency,
    format_date,
    format_number,
    gettext,
    lazy_gettext,
    locale_scope,
    locale_url,
    ngettext,
    pgettext,
)
from nexpress.i18n.context import activate
from nexpress.pages.render import LocalizedPage, PageEndpoint
from nexpress.testing import TestClient

EN_FR = I18nConfig.from_settings({"locales": ["en", "fr", "pt-BR"], "default": "en"})
I18N = {"locales": ["en", "fr"], "default": "en"}

# --- negotiation: pure functions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("cookie", "accept", "expected"),
    [
        (None, None, "en"),  # a crawler: the default, nothing else
        (None, "", "en"),
        (None, "fr", "fr"),
        (None, "fr-CA", "fr"),  # a region falls back to its language
        (None, "fr-ca,en;q=0.5", "fr"),
        (None, "de, fr;q=0.8, en;q=0.9", "en"),  # q-values, not order, decide
        (None, "en;q=0.1, fr;q=0.2", "fr"),
        (None, "fr;q=1.0, en;q=1.000", "fr"),  # equal q: header order
        (None, "pt-br", "pt-BR"),
        (None, "pt", "pt-BR"),  # a language finds its only regional locale
        (None, "de, it", "en"),  # nothing we have: the default
        (None, "*", "en"),
        (None, "de, *;q=0.5", "en"),
        (None, "fr;q=0, *", "en"),  # q=0 refuses
        (None, "en;q=0, *", "fr"),  # * is then anything not refused
        (None, "fr;q=2", "en"),  # malformed q: the range is ignored
        (None, "fr;q=abc, en;q=0.1", "en"),
        (None, "fr;level=1", "en"),
        (None, ";;;,,,", "en"),
        (None, "x" * 10_000, "en"),
        (None, ",".join(["de"] * 500) + ",fr", "en"),  # past the range limit: ignored, no cost
        (None, "fr\x00, en", "en"),
        (None, "ﬀ-ﬀ, fr", "fr"),
        ("fr", "en", "fr"),  # the cookie wins over Accept-Language
        ("FR", None, "fr"),
        ("de", "fr", "fr"),  # an unknown locale in the cookie is ignored
        ("../../etc", None, "en"),
        ("", "fr", "fr"),
    ],
)
def test_negotiation_table(cookie, accept, expected):
    assert negotiate(EN_FR, cookie, accept) == expected


def test_accept_language_parsing_sorts_by_quality_and_keeps_refusals():
    assert parse_accept_language("da, en-GB;q=0.8, en;q=0.7, *;q=0") == [("da", 1.0), ("en-gb", 0.8), ("en", 0.7), ("*", 0.0)]
    assert parse_accept_language(b"fr-CA;q=0.9") == [("fr-ca", 0.9)]
    assert parse_accept_language("1234, -, fr") == [("fr", 1.0)]


def test_locale_of_the_url():
    assert split_locale(EN_FR, "/fr/blog/x?y=1") == ("fr", "/blog/x?y=1")
    assert split_locale(EN_FR, "/fr") == ("fr", "/")
    assert split_locale(EN_FR, "/fr?x") == ("fr", "/?x")
    assert split_locale(EN_FR, "/french/blog") == (None, "/french/blog")
    assert split_locale(EN_FR, "/de/blog") == (None, "/de/blog")
    assert split_locale(EN_FR, "/pt-BR/blog") == ("pt-BR", "/blog")


def test_locale_url():
    assert locale_url("/fr/blog", "en", config=EN_FR) == "/blog"
    assert locale_url("/blog", "fr", config=EN_FR) == "/fr/blog"
    assert locale_url("/", "fr", config=EN_FR) == "/fr"
    assert locale_url("/blog", "fr", remember=True, config=EN_FR) == "/_nexpress/locale/fr?path=/fr/blog"
    assert locale_url("//evil.example", "fr", config=EN_FR) == "/fr"  # only paths of this site
    prefixed = I18nConfig.from_settings({**I18N, "prefix_default": True})
    assert locale_url("/fr/blog", "en", config=prefixed) == "/en/blog"
    with pytest.raises(ValueError, match="not one of the app's locales"):
        locale_url("/blog", "de", config=EN_FR)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"locales": []}, "non-empty list of locales"),
        ({"locales": "en"}, "non-empty list of locales"),
        ({"locales": ["en", "fr"], "default": "de"}, "must be one of the locales"),
        ({"locales": ["en", "en"]}, "listed twice"),
        ({"locales": ["en", "français"]}, "not a locale tag"),
        ({"locales": ["en", "../x"]}, "not a locale tag"),
        ({"locales": ["en"], "prefix": True}, "unknown keys"),
        ({"locales": ["en"], "prefix_default": "yes"}, "True or False"),
        (["en", "fr"], "must be a dict"),
    ],
)
def test_bad_i18n_settings_fail_at_construction_naming_the_fix(tmp_path, settings, message):
    with pytest.raises(I18nConfigError, match=message):
        App(root=tmp_path, i18n=settings)


# --- an app with locales ------------------------------------------------------------------

LAYOUT = '<!doctype html><html lang="{{ locale }}"><head></head><body><nav>{{ _("Home") }}</nav>{{ children }}</body></html>'

SITE = {
    "app/layout.html": LAYOUT,
    "app/page.html": '<h1>{{ _("Welcome") }}</h1>',
    "app/not-found.html": '<p>{{ _("Nothing here") }}</p>',
    "app/blog/page.html": '<h1>{{ _("Blog") }}</h1><p>{{ ngettext("%(num)s post", "%(num)s posts", count) }}</p>'
    "<p>{{ format_number(1234.5) }}</p><p>{{ format_date(day) }}</p>"
    '<a href="{{ locale_url(current_path, "fr") }}">fr</a><p>render {{ n }}</p>',
    "app/blog/page.py": """
        import datetime

        RENDERS = [0]
        revalidate = 3600

        async def data(req):
            RENDERS[0] += 1
            return {"count": 0, "day": datetime.date(2026, 12, 7), "n": RENDERS[0]}
        """,
    "app/about/page.html": "<p>{{ message }} {{ where }}</p>"
    '<form method="post" action="{{ action(\'hello\') }}">{{ csrf() }}</form>{{ action_result or "" }}',
    "app/about/page.py": """
        from nexpress import action
        from nexpress.i18n import _

        dynamic = True

        async def data(req):
            return {"message": _("About us"), "where": req.locale}

        @action
        async def hello(req, form):
            return _("Thanks") + " " + req.locale
        """,
    "app/api/hello/route.py": """
        from nexpress.i18n import _, locale_scope

        async def GET(req):
            with locale_scope(req.preferred_locale):
                return {"locale": req.locale, "preferred": req.preferred_locale, "text": _("Home")}
        """,
    "app/sitemap.py": "def sitemap(req):\n    return [{'url': 'https://ex.com/'}, {'url': 'https://ex.com/blog', 'priority': 0.5}]\n",
    "locales/fr/LC_MESSAGES/messages.po": r"""
        msgid ""
        msgstr ""
        "Content-Type: text/plain; charset=utf-8\n"
        "Plural-Forms: nplurals=2; plural=(n > 1);\n"
        "Language: fr\n"

        msgid "Home"
        msgstr "Accueil"

        msgid "Welcome"
        msgstr "Bienvenue"

        msgid "Blog"
        msgstr "Blogue"

        msgid "About us"
        msgstr "À propos"

        msgid "Thanks"
        msgstr "Merci"

        msgid "Nothing here"
        msgstr "Rien ici"

        msgid "%(num)s post"
        msgid_plural "%(num)s posts"
        msgstr[0] "%(num)s billet"
        msgstr[1] "%(num)s billets"
        """,
}


def site(tmp_path: Path, **settings) -> App:
    write_files(tmp_path, SITE)
    return App(root=tmp_path, secret="i18n-test-secret-0123456789", i18n={**I18N, **settings}, base_url="https://ex.com")


@pytest.fixture
def client(tmp_path):
    with TestClient(site(tmp_path)) as c:
        yield c


def test_pages_in_each_locale(client):
    english = client.get("/blog")
    french = client.get("/fr/blog")
    assert english.status_code == french.status_code == 200
    assert '<html lang="en">' in english.text and "<h1>Blog</h1>" in english.text and "0 posts" in english.text
    assert '<html lang="fr">' in french.text and "<h1>Blogue</h1>" in french.text and "Accueil" in french.text
    assert "0 billet<" in french.text  # French plural rules: 0 is singular
    assert "1,234.5" in english.text and "1\u202f234,5" in french.text
    assert "Dec 7, 2026" in english.text and "7 déc. 2026" in french.text
    assert '<a href="/fr/blog">fr</a>' in english.text


def test_per_locale_cache_keys_never_serve_english_for_french(client):
    english = client.get("/blog")
    assert english.headers["x-nexpress-cache"] == "MISS"
    french = client.get("/fr/blog")
    assert french.headers["x-nexpress-cache"] == "MISS", "French is its own entry"
    assert "Blogue" in french.text
    again = client.get("/fr/blog")
    assert again.headers["x-nexpress-cache"] == "HIT" and "Blogue" in again.text
    assert "Blogue" not in client.get("/blog").text
    keys = client.run_async(_page_keys, client.app)
    assert {"page:/blog", "page:/fr/blog"} <= keys


async def _page_keys(app: App) -> set[str]:
    return {key async for key, _ in app.cache.store.entries("page:")}


def test_root_negotiation_redirects_with_vary_and_never_loops(client):
    crawler = client.get("/", follow_redirects=False)
    assert crawler.status_code == 200 and "Welcome" in crawler.text
    assert {"Accept-Language", "Cookie"} <= {v.strip() for v in crawler.headers["vary"].split(",")}
    french = client.get("/", headers={"accept-language": "fr-CA,fr;q=0.9,en;q=0.5"}, follow_redirects=False)
    assert french.status_code == 307 and french.headers["location"] == "/fr"
    assert "Accept-Language" in french.headers["vary"] and "Cookie" in french.headers["vary"]
    chosen = client.get("/", headers={"accept-language": "fr", "cookie": "NEXPRESS_LOCALE=en"}, follow_redirects=False)
    assert chosen.status_code == 200, "the remembered choice wins over Accept-Language"
    followed = client.get("/", headers={"accept-language": "fr"}, follow_redirects=True)
    assert followed.status_code == 200 and "Bienvenue" in followed.text
    # unprefixed URLs other than / are the default locale's pages (no redirect)
    assert client.get("/blog", headers={"accept-language": "fr"}, follow_redirects=False).status_code == 200
    for hostile in ("x" * 8000, "fr;q=NaN", "\u00e9\u00e9", ";q=1", "*;q=-1"):
        answer = client.get("/", headers={"accept-language": hostile.encode("utf-8")}, follow_redirects=False)
        assert answer.status_code == 200, hostile
    for cookie in (b"\xff\xfe=\x00", b"NEXPRESS_LOCALE=%ff%fe", b"NEXPRESS_LOCALE=" + b"f" * 5000, b";;;==;"):
        answer = client.get("/", headers={"cookie": cookie, "accept-language": b"\xff\xfe"}, follow_redirects=False)
        assert answer.status_code == 200, cookie


def test_prefix_default_redirects_every_unprefixed_page(tmp_path):
    with TestClient(site(tmp_path, prefix_default=True)) as client:
        for path, accept, location in [
            ("/", None, "/en"),
            ("/", "fr", "/fr"),
            ("/blog", None, "/en/blog"),
            ("/blog?x=1", "fr-BE", "/fr/blog?x=1"),
            ("/blog", "de", "/en/blog"),
        ]:
            headers = {"accept-language": accept} if accept else {}
            answer = client.get(path, headers=headers, follow_redirects=False)
            assert answer.status_code == 307, path
            assert answer.headers["location"] == location
            assert "Accept-Language" in answer.headers["vary"] and "Cookie" in answer.headers["vary"]
        # a crawler follows the redirect to a page, not a loop
        final = client.get("/blog", follow_redirects=True)
        assert final.status_code == 200 and str(final.url).endswith("/en/blog")
        assert "<h1>Blog</h1>" in client.get("/en/blog").text
        assert "<h1>Blogue</h1>" in client.get("/fr/blog").text
        assert client.get("/de/blog").status_code == 404


def test_req_locale_in_actions_route_py_and_express_routes(tmp_path):
    app = site(tmp_path)
    router = Router()

    @router.get("/greeting")
    async def greeting(req):
        return {"locale": req.locale}

    for locale in app.i18n.locales:  # type: ignore[union-attr]
        app.use(f"/{locale}", router)  # the documented opt-in: mount under each locale
    with TestClient(app) as client:
        assert client.get("/fr/about").text.startswith("<!doctype html>")
        assert "À propos fr" in client.get("/fr/about").text
        assert "About us en" in client.get("/about", headers={"accept-language": "fr"}).text
        page = client.get("/fr/about")
        action = page.text.split('action="')[1].split('"')[0].replace("&amp;", "&")
        token = page.text.split('name="csrfToken" value="')[1].split('"')[0]
        answer = client.post(action if action.startswith("/") else "/fr/about" + action, data={"csrfToken": token})
        assert answer.status_code == 200 and "Merci fr" in answer.text
        api = client.get("/api/hello", headers={"accept-language": "fr"}).json()
        assert api == {"locale": "en", "preferred": "fr", "text": "Accueil"}
        assert client.get("/fr/greeting").json() == {"locale": "fr"}
        assert client.get("/en/greeting").json() == {"locale": "en"}


def test_not_found_pages_speak_the_locale(client):
    missing = client.get("/fr/nothing")
    assert missing.status_code == 404 and "Rien ici" in missing.text and 'lang="fr"' in missing.text
    assert "Nothing here" in client.get("/nothing").text


def test_language_switch_remembers_the_choice_and_stays_on_site(client):
    answer = client.get("/_nexpress/locale/fr?path=/blog", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/fr/blog"
    assert "NEXPRESS_LOCALE=fr" in answer.headers["set-cookie"]
    assert client.get("/", follow_redirects=False).headers["location"] == "/fr"  # the cookie now
    for path in ("//evil.example", "https://evil.example", "/\\evil", "/%0d%0aX:1"):
        off = client.get("/_nexpress/locale/en", params={"path": path}, follow_redirects=False)
        assert off.status_code == 303 and off.headers["location"].startswith("/") and "evil" not in off.headers["location"].split("?")[0].lstrip("/")[:5]
    assert client.get("/_nexpress/locale/de?path=/blog", follow_redirects=False).status_code == 404


def test_sitemap_lists_every_locale_with_hreflang_alternates(client):
    xml = client.get("/sitemap.xml").text
    assert 'xmlns:xhtml="http://www.w3.org/1999/xhtml"' in xml
    assert "<loc>https://ex.com/blog</loc>" in xml and "<loc>https://ex.com/fr/blog</loc>" in xml
    assert xml.count('<xhtml:link rel="alternate" hreflang="fr" href="https://ex.com/fr/blog"/>') == 2
    assert xml.count('hreflang="x-default" href="https://ex.com/blog"') == 2


def test_pages_carry_hreflang_links_and_metadata_alternates(client):
    head = client.get("/fr/blog").text.split("</head>")[0]
    assert '<link rel="alternate" hreflang="en" href="https://ex.com/blog">' in head
    assert '<link rel="alternate" hreflang="fr" href="https://ex.com/fr/blog">' in head
    for _ in range(2):  # a dynamic page, rendered per request: each path its own alternates
        for path in ("/about", "/fr/about"):
            head = client.get(path).text.split("</head>")[0]
            assert head.count('hreflang="fr" href="https://ex.com/fr/about"') == 1, path
            assert head.count('hreflang="en" href="https://ex.com/about"') == 1, path
    from nexpress.pages.metadata import head_tags

    tags = head_tags({"alternates": {"canonical": "https://ex.com/a", "languages": {"de": "https://ex.com/de/a\"x"}}})
    assert '<link rel="canonical" href="https://ex.com/a">' in tags
    assert '<link rel="alternate" hreflang="de" href="https://ex.com/de/a&quot;x">' in tags


def test_prerender_each_page_in_each_locale_and_routes_show_the_locale(tmp_path):
    app = site(tmp_path)

    async def build() -> tuple[list[str], dict[str, bytes]]:
        await app.startup(for_build=True)
        try:
            paths = sorted(t.path for t in await targets(app))
            results = await prerender(app)
            return paths, {r.target.path: r.entry.body for r in results if r.entry is not None}
        finally:
            await app.shutdown()

    paths, bodies = asyncio.run(build())
    assert paths == ["/", "/blog", "/fr", "/fr/blog"]
    assert b"Blogue" in bodies["/fr/blog"] and b"Blogue" not in bodies["/blog"]
    rows = {(row["path"], row["source"]) for row in app.table.describe()}
    assert ("/fr/blog", "app/blog/page.py") in rows and ("/blog", "app/blog/page.py") in rows
    assert ("/fr/about", "app/about/page.py") in rows
    assert ("/sitemap.xml", "app/sitemap.py") in rows and not any(path == "/fr/sitemap.xml" for path, _ in rows)


def test_export_writes_every_locale_without_the_server_only_helpers(tmp_path):
    from nexpress.build import export

    write_files(tmp_path, {k: v for k, v in SITE.items() if not k.startswith(("app/about", "app/api"))})
    app = App(root=tmp_path, i18n={**I18N, "prefix_default": True}, base_url="https://ex.com")

    async def run() -> None:
        await app.startup(for_build=True)
        try:
            await export(app, str(tmp_path / "out"))
        finally:
            await app.shutdown()

    asyncio.run(run())
    out = tmp_path / "out"
    assert "Blogue" in (out / "fr/blog/index.html").read_text()
    assert "<h1>Blog</h1>" in (out / "en/blog/index.html").read_text()
    assert "https://ex.com/fr/blog" in (out / "sitemap.xml").read_text()


def test_revalidate_path_reaches_every_locale_or_one(client):
    app = client.app
    for path in ("/blog", "/fr/blog"):
        client.get(path)
    client.run_async(app.cache.revalidate_path, "/fr/blog")
    assert client.run_async(_page_keys, app) >= {"page:/blog"}
    assert "page:/fr/blog" not in client.run_async(_page_keys, app)
    client.get("/fr/blog")
    client.run_async(app.cache.revalidate_path, "/blog")
    assert not {"page:/blog", "page:/fr/blog"} & client.run_async(_page_keys, app)


def test_an_app_without_i18n_keeps_plain_pages(tmp_path):
    write_files(tmp_path, {"app/page.html": "<p>hi</p>"})
    app = App(root=tmp_path)
    with TestClient(app) as client:
        assert client.get("/").status_code == 200
        page = next(r.handler for r in app.table.routes if r.path == "/").render
        assert type(page) is PageEndpoint and not isinstance(page, LocalizedPage)
        assert client.get("/_nexpress/locale/fr").status_code == 404


# --- messages and formatting in Python ----------------------------------------------------


def test_gettext_plural_forms_context_and_lazy_strings(client):
    assert gettext("Home") == "Home"  # outside a request: the default locale
    with locale_scope("fr"):
        assert gettext("Home") == "Accueil"
        assert gettext("Untranslated %(x)s", x=1) == "Untranslated 1"  # the source text
        assert ngettext("%(num)s post", "%(num)s posts", 0) == "0 billet"
        assert ngettext("%(num)s post", "%(num)s posts", 1) == "1 billet"
        assert ngettext("%(num)s post", "%(num)s posts", 2) == "2 billets"
        assert pgettext("menu", "Home") == "Home"  # no entry in that context
    with locale_scope("en"):
        assert ngettext("%(num)s post", "%(num)s posts", 0) == "0 posts"
    label = lazy_gettext("Home")
    with locale_scope("fr"):
        assert str(label) == "Accueil"
    with locale_scope("en"):
        assert str(label) == "Home"


def test_formatting_by_locale():
    activate(EN_FR)
    day = dt.date(2026, 12, 7)
    assert format_date(day, locale="en") == "Dec 7, 2026"
    assert format_date(day, locale="fr") == "7 déc. 2026"
    assert format_date(day, "long", locale="pt-BR") == "7 de dezembro de 2026"
    assert format_number(1234567.891, locale="en") == "1,234,567.891"
    assert format_number(Decimal("1234.5"), locale="fr") == "1\u202f234,5"
    assert format_currency(1234.5, "EUR", locale="en") == "€1,234.50"
    assert format_currency(1234.5, "EUR", locale="fr") == "1\u202f234,50\u00a0€"
    with locale_scope("fr"):
        assert format_number(0.5) == "0,5"


def test_missing_translations_are_logged_once_in_dev(tmp_path, caplog):
    write_files(tmp_path, SITE)
    app = App(root=tmp_path, secret="s" * 32, i18n=I18N, debug=True)
    with TestClient(app) as client, caplog.at_level(logging.WARNING, logger="nexpress.i18n"):
        client.get("/fr/about")
        with locale_scope("fr"):
            gettext("Not in the catalog")
            gettext("Not in the catalog")
    notes = [r.getMessage() for r in caplog.records if "Not in the catalog" in r.getMessage()]
    assert len(notes) == 1 and "locales/fr/LC_MESSAGES/messages.po" in notes[0]


# --- the CLI in a fresh project ------------------------------------------------------------


def test_cli_extract_init_update_compile_in_a_fresh_project(tmp_path, monkeypatch):
    write_files(
        tmp_path,
        {
            "app/layout.html": LAYOUT,
            "app/_components/footer.html": "<footer>{% trans %}Made with care{% endtrans %}</footer>",
            "app/page.html": '{% include "_components/footer.html" %}<h1>{{ _("Welcome") }}</h1>'
            '{{ ngettext("%(num)s apple", "%(num)s apples", 3) }}{{ pgettext("month", "May") }}',
            "app/page.py": "from nexpress.i18n import lazy_gettext\nTITLE = lazy_gettext('Lazy title')\n",
        },
    )
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, ["i18n", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert "6 message(s) extracted into locales/messages.pot" in run("extract")
    pot = (tmp_path / "locales/messages.pot").read_text()
    for message in ("Welcome", "Made with care", "%(num)s apple", 'msgctxt "month"', "Lazy title", "Home"):
        assert message in pot, message
    assert "locales/fr/LC_MESSAGES/messages.po" in run("init", "fr")
    assert runner.invoke(main, ["i18n", "init", "fr"]).exit_code != 0, "init never overwrites"
    po = tmp_path / "locales/fr/LC_MESSAGES/messages.po"
    text = po.read_text()
    assert "nplurals=3" in text  # CLDR's French: one (0, 1), many (millions), other
    text = text.replace('msgid "Welcome"\nmsgstr ""', 'msgid "Welcome"\nmsgstr "Bienvenue"')
    text = text.replace(
        'msgid_plural "%(num)s apples"\nmsgstr[0] ""\nmsgstr[1] ""\nmsgstr[2] ""',
        'msgid_plural "%(num)s apples"\nmsgstr[0] "%(num)s pomme"\nmsgstr[1] "%(num)s de pommes"\nmsgstr[2] "%(num)s pommes"',
    )
    text = text.replace('msgctxt "month"\nmsgid "May"\nmsgstr ""', 'msgctxt "month"\nmsgid "May"\nmsgstr "mai"')
    po.write_text(text)
    # a new message in the app, then update merges it
    (tmp_path / "app/page.html").write_text((tmp_path / "app/page.html").read_text() + '{{ _("Goodbye") }}')
    run("extract")
    assert "3 of 7 translated, 4 untranslated" in run("update")
    assert 'msgid "Goodbye"' in po.read_text()
    assert "Goodbye" in run("missing", "fr")
    assert "compiled locales/fr/LC_MESSAGES/messages.po: 3 of 7 translated" in run("compile")
    assert (tmp_path / "locales/fr/LC_MESSAGES/messages.mo").is_file()
    # production serves the compiled catalog
    app = App(root=tmp_path, i18n=I18N, debug=False)
    with TestClient(app) as client:
        french = client.get("/fr").text
        assert "Bienvenue" in french and "3 pommes" in french and "mai" in french and "Made with care" in french
        assert "Welcome" in client.get("/").text


def test_cli_errors_name_the_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    init = runner.invoke(main, ["i18n", "init", "fr"])
    assert init.exit_code != 0 and "nexpress i18n extract" in init.output
    assert "nexpress i18n extract" in runner.invoke(main, ["i18n", "compile"]).output
    os.makedirs(tmp_path / "app")
    runner.invoke(main, ["i18n", "extract"])
    unknown = runner.invoke(main, ["i18n", "init", "xx-notalocale"])
    assert unknown.exit_code != 0 and "not a locale Babel knows" in unknown.output


def test_views_templates_of_res_render_get_the_helpers_too(tmp_path):
    app = site(tmp_path)
    write_files(tmp_path, {"views/hello.html": '<p>{{ _("Home") }} {{ format_number(1.5) }}</p>'})

    @app.get("/fr/hello")
    async def hello(req, res):
        with locale_scope(req.locale):
            res.render("hello.html")

    with TestClient(app) as client:
        assert client.get("/fr/hello").text == "<p>Accueil 1,5</p>"


def test_two_apps_in_one_process_keep_their_own_locales_and_catalogs(tmp_path):
    """_() and the default locale are the running app's, not the last one compiled."""
    route = """
        from nexpress.i18n import _, current_locale, locale_scope

        async def GET(req):
            default = current_locale()
            with locale_scope(req.preferred_locale):
                return {"default": default, "text": _("Home")}
        """
    po = r"""
        msgid ""
        msgstr ""
        "Content-Type: text/plain; charset=utf-8\n"
        "Language: fr\n"

        msgid "Home"
        msgstr "{}"
        """
    for name, home in (("a", "Accueil"), ("b", "Maison")):
        write_files(tmp_path / name, {"app/api/hello/route.py": route, "locales/fr/LC_MESSAGES/messages.po": po.replace("{}", home)})
    first = App(root=tmp_path / "a", i18n={"locales": ["en", "fr"], "default": "en"})
    second = App(root=tmp_path / "b", i18n={"locales": ["de", "fr"], "default": "de"})
    french = {"accept-language": "fr"}
    with TestClient(first) as a, TestClient(second) as b:
        for _ in range(2):  # in turns: each call is its own app's
            assert a.get("/api/hello", headers=french).json() == {"default": "en", "text": "Accueil"}
            assert b.get("/api/hello", headers=french).json() == {"default": "de", "text": "Maison"}
