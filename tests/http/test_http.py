"""The pure HTTP helpers (nexpress.http.headers) and cookie signing (nexpress.http.cookies)."""

from __future__ import annotations

import email.utils

import pytest

from nexpress.http.cookies import format_set_cookie, parse_cookie_header, sign, unsign
from nexpress.http.errors import BadRequest, HTTPError
from nexpress.http.headers import Headers, check_header, http_date
from nexpress.http.negotiation import accepts, parse_accept, wants_html
from nexpress.http.paths import decode_raw_path, encode_url, percent_decode, split_path
from nexpress.http.query import MultiDict, parse_qs
from nexpress.http.ranges import parse_range

# --- percent_decode ------------------------------------------------------------


class TestPercentDecode:
    def test_plain_text_is_returned_unchanged(self):
        assert percent_decode("hello-world_1.txt") == "hello-world_1.txt"

    def test_decodes_ascii_escapes(self):
        assert percent_decode("a%20b%2Fc") == "a b/c"

    def test_hex_digits_are_case_insensitive(self):
        assert percent_decode("%2f%2F%e2%82%ac") == "//€"

    def test_decodes_multibyte_utf8(self):
        assert percent_decode("caf%C3%A9") == "café"
        assert percent_decode("%F0%9F%98%80") == "😀"

    def test_decodes_once_only(self):
        # %25 is a literal '%': the result must not be decoded a second time
        assert percent_decode("%252e%252e") == "%2e%2e"
        assert percent_decode("100%25") == "100%"

    def test_non_ascii_literal_characters_are_kept(self):
        assert percent_decode("café%20bar") == "café bar"

    @pytest.mark.parametrize("bad", ["%", "%2", "abc%", "%zz", "%g0", "a%2", "%%20", "%2x"])
    def test_malformed_escapes_are_a_400(self, bad):
        with pytest.raises(BadRequest) as info:
            percent_decode(bad)
        assert info.value.status == 400
        assert isinstance(info.value, HTTPError)

    @pytest.mark.parametrize("bad", ["%ff", "%C3", "%C3%28", "%80abc", "%ED%A0%80"])
    def test_invalid_utf8_after_decoding_is_a_400(self, bad):
        with pytest.raises(BadRequest) as info:
            percent_decode(bad)
        assert info.value.status == 400
        assert "UTF-8" in str(info.value.detail)

    def test_error_names_what_was_decoded(self):
        with pytest.raises(BadRequest) as info:
            percent_decode("%zz", "query string")
        assert "query string" in info.value.detail

    def test_plus_is_literal_by_default(self):
        assert percent_decode("a+b") == "a+b"

    def test_plus_as_space_for_forms(self):
        assert percent_decode("a+b", plus_as_space=True) == "a b"
        # an encoded plus stays a plus
        assert percent_decode("1%2B1", plus_as_space=True) == "1+1"

    def test_nul_byte_escape_decodes_to_nul(self):
        # decoding is faithful; callers (e.g. static files) must refuse it
        assert percent_decode("a%00b") == "a\x00b"


class TestRawPathAndSplit:
    def test_ascii_path(self):
        assert decode_raw_path(b"/a/b%20c") == "/a/b%20c"

    def test_utf8_path(self):
        assert decode_raw_path("/café".encode()) == "/café"

    def test_invalid_utf8_path_is_a_400(self):
        with pytest.raises(BadRequest):
            decode_raw_path(b"/\xff\xfe")

    def test_root_has_no_segments(self):
        assert split_path("/") == []

    def test_segments_are_decoded_after_splitting(self):
        assert split_path("/a/b%2Fc/d") == ["a", "b/c", "d"]

    def test_empty_segments_are_kept(self):
        assert split_path("/a//b/") == ["a", "", "b", ""]

    def test_bad_escape_in_a_segment_is_a_400(self):
        with pytest.raises(BadRequest):
            split_path("/a/%zz")


# --- query strings -------------------------------------------------------------


class TestParseQs:
    def test_pairs_in_order(self):
        assert parse_qs("a=1&b=2&a=3") == [("a", "1"), ("b", "2"), ("a", "3")]

    def test_accepts_bytes(self):
        assert parse_qs(b"x=1") == [("x", "1")]

    def test_plus_is_space_and_escapes_are_decoded(self):
        assert parse_qs("q=hello+world&r=a%26b%3Dc") == [("q", "hello world"), ("r", "a&b=c")]

    def test_names_are_decoded_too(self):
        assert parse_qs("a%20b=1") == [("a b", "1")]

    def test_missing_equals_gives_empty_value(self):
        assert parse_qs("flag&x=") == [("flag", ""), ("x", "")]

    def test_value_may_contain_equals(self):
        assert parse_qs("token=a=b=c") == [("token", "a=b=c")]

    def test_empty_chunks_are_skipped(self):
        assert parse_qs("&&a=1&&") == [("a", "1")]
        assert parse_qs("") == []
        assert parse_qs(b"") == []

    def test_utf8_values(self):
        assert parse_qs("name=caf%C3%A9") == [("name", "café")]
        assert parse_qs("name=café".encode()) == [("name", "café")]

    @pytest.mark.parametrize("bad", ["a=%", "a=%zz", "%zz=1", "a=%ff", "a=%C3"])
    def test_malformed_is_a_400(self, bad):
        with pytest.raises(BadRequest):
            parse_qs(bad)

    def test_invalid_utf8_bytes_are_a_400(self):
        with pytest.raises(BadRequest) as info:
            parse_qs(b"a=\xff")
        assert "UTF-8" in info.value.detail


class TestMultiDict:
    def setup_method(self):
        self.d = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])

    def test_getitem_is_first_value(self):
        assert self.d["a"] == "1"
        assert self.d["b"] == "2"

    def test_getall_is_every_value_in_order(self):
        assert self.d.getall("a") == ["1", "3"]
        assert self.d.getall("missing") == []

    def test_missing_key_raises_keyerror(self):
        with pytest.raises(KeyError):
            self.d["missing"]

    def test_get_with_default(self):
        assert self.d.get("a") == "1"
        assert self.d.get("missing") is None
        assert self.d.get("missing", "x") == "x"

    def test_mapping_protocol(self):
        assert "a" in self.d
        assert "missing" not in self.d
        assert len(self.d) == 2
        assert list(self.d) == ["a", "b"]
        assert list(self.d.keys()) == ["a", "b"]
        assert list(self.d.values()) == ["1", "2"]
        assert dict(self.d.items()) == {"a": "1", "b": "2"}
        assert dict(self.d) == {"a": "1", "b": "2"}

    def test_multi_items_keeps_every_pair(self):
        assert self.d.multi_items() == [("a", "1"), ("b", "2"), ("a", "3")]

    def test_multi_items_is_a_copy(self):
        items = self.d.multi_items()
        items.append(("c", "4"))
        assert "c" not in self.d

    def test_equality(self):
        assert self.d == MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
        assert self.d != MultiDict([("a", "1"), ("b", "2")])
        assert self.d == {"a": "1", "b": "2"}
        assert self.d != {"a": "3", "b": "2"}

    def test_empty(self):
        empty = MultiDict()
        assert len(empty) == 0
        assert empty.get("a") is None
        assert "a" not in empty


# --- headers -------------------------------------------------------------------


class TestHeaders:
    def setup_method(self):
        self.h = Headers(
            [
                (b"content-type", b"text/plain"),
                (b"x-multi", b"one"),
                (b"x-multi", b"two"),
                (b"x-utf8", "café".encode()),
            ]
        )

    @pytest.mark.parametrize("name", ["content-type", "Content-Type", "CONTENT-TYPE", "cOnTeNt-TyPe"])
    def test_case_insensitive_lookup(self, name):
        assert self.h.get(name) == "text/plain"
        assert self.h[name] == "text/plain"
        assert name in self.h

    def test_missing(self):
        assert self.h.get("x-nope") is None
        assert self.h.get("x-nope", "dflt") == "dflt"
        assert "x-nope" not in self.h
        with pytest.raises(KeyError):
            self.h["x-nope"]

    def test_non_string_is_never_contained(self):
        assert 42 not in self.h
        assert b"content-type" not in self.h

    def test_get_joins_repeated_lines_and_getall_returns_each(self):
        # as Node's req.headers (RFC 9110 5.3): several lines are one comma-separated list
        assert self.h.get("X-Multi") == "one, two"
        assert self.h.getall("X-MULTI") == ["one", "two"]
        assert self.h.getall("x-nope") == []

    def test_single_valued_fields_keep_their_first_line_and_cookies_join_with_semicolons(self):
        h = Headers(
            [
                (b"host", b"a.example"), (b"host", b"b.example"),
                (b"content-type", b"text/plain"), (b"content-type", b"application/json"),
                (b"cookie", b"a=1"), (b"cookie", b"b=2"),
                (b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"1.2.3.4"),
                (b"forwarded", b"for=6.6.6.6"), (b"forwarded", b"for=1.2.3.4"),
            ]
        )  # fmt: skip
        assert h.get("host") == "a.example"
        assert h.get("content-type") == "text/plain"
        assert h.get("cookie") == "a=1; b=2"
        assert h.get("x-forwarded-for") == "6.6.6.6, 1.2.3.4"
        assert h.get("forwarded") == "for=6.6.6.6, for=1.2.3.4"

    def test_utf8_values_are_decoded(self):
        assert self.h["x-utf8"] == "café"

    def test_keys_items_len(self):
        assert self.h.keys() == ["content-type", "x-multi", "x-utf8"]
        assert list(self.h) == ["content-type", "x-multi", "x-utf8"]
        assert ("x-multi", "two") in self.h.items()
        assert len(self.h) == 4

    def test_raw_get(self):
        assert self.h.raw_get(b"x-multi") == b"one"
        assert self.h.raw_get(b"x-nope") is None

    def test_invalid_utf8_is_a_400_naming_the_header(self):
        h = Headers([(b"x-bad", b"\xff\xfe"), (b"x-good", b"ok")])
        assert h.get("x-good") == "ok"  # only the bad header fails, and only when read
        with pytest.raises(BadRequest) as info:
            h.get("X-Bad")
        assert info.value.status == 400
        assert "x-bad" in info.value.detail
        with pytest.raises(BadRequest):
            h.getall("x-bad")
        with pytest.raises(BadRequest):
            h.items()
        # presence checks do not decode
        assert "x-bad" in h


# --- cookies ---------------------------------------------------------------------


class TestParseCookieHeader:
    def test_simple_pairs(self):
        assert parse_cookie_header(b"a=1; b=2") == {"a": "1", "b": "2"}

    def test_whitespace_is_trimmed(self):
        assert parse_cookie_header(b"  a = 1 ;b=2  ") == {"a": "1", "b": "2"}

    def test_quoted_value_is_unquoted(self):
        assert parse_cookie_header(b'a="hello"') == {"a": "hello"}

    def test_percent_escapes_are_decoded(self):
        assert parse_cookie_header(b"a=x%3By%20z") == {"a": "x;y z"}

    def test_first_value_of_a_repeated_name_wins(self):
        assert parse_cookie_header(b"a=1; a=2") == {"a": "1"}

    def test_pairs_without_equals_and_empty_names_are_skipped(self):
        assert parse_cookie_header(b"junk; a=1; =nameless; ;") == {"a": "1"}

    def test_value_may_contain_equals(self):
        assert parse_cookie_header(b"t=a=b") == {"t": "a=b"}

    def test_empty_value(self):
        assert parse_cookie_header(b"a=") == {"a": ""}

    def test_empty_header(self):
        assert parse_cookie_header(b"") == {}

    def test_invalid_utf8_is_kept_as_it_arrived(self):
        assert parse_cookie_header(b"a=\xff; b=2") == {"a": "\xff", "b": "2"}
        assert parse_cookie_header(b"\xe9=1") == {"\xe9": "1"}

    def test_bad_percent_escapes_are_kept_raw(self):
        """Express keeps 'promo=50%off' as it is; one odd cookie must not fail requests."""
        assert parse_cookie_header(b"promo=50%off; sid=ok") == {"promo": "50%off", "sid": "ok"}
        assert parse_cookie_header(b"a=%zz; b=%") == {"a": "%zz", "b": "%"}
        assert parse_cookie_header(b"a=%ff") == {"a": "%ff"}  # percent-encoded invalid UTF-8

    def test_utf8_value(self):
        assert parse_cookie_header("n=café".encode()) == {"n": "café"}


class TestFormatSetCookie:
    def parts(self, header: str) -> list[str]:
        return header.split("; ")

    def test_defaults(self):
        assert format_set_cookie("sid", "abc") == "sid=abc; Path=/; SameSite=Lax; HttpOnly"

    def test_round_trips_through_the_parser(self):
        for value in ["plain", "with space", "semi;colon", "a,b", 'q"uote', "back\\slash", "€uro", "x=y", "100%"]:
            header = format_set_cookie("n", value)
            pair = header.split("; ")[0]
            assert parse_cookie_header(pair.encode()) == {"n": value}

    @pytest.mark.parametrize(
        "value",
        [
            "x; Domain=evil.example",
            "x\r\nSet-Cookie: admin=1",
            "x\nLocation: http://evil",
            "x; HttpOnly=false; Secure",
            "a\x00b",
            "a, b=c",
        ],
    )
    def test_value_cannot_inject_attributes_or_headers(self, value):
        header = format_set_cookie("n", value)
        first, *attrs = header.split("; ")
        assert attrs == ["Path=/", "SameSite=Lax", "HttpOnly"]
        assert ";" not in first and "\r" not in header and "\n" not in header
        assert "\x00" not in header and " " not in first and "," not in first
        assert parse_cookie_header(first.encode()) == {"n": value}

    @pytest.mark.parametrize("name", ["", "a b", "a;b", "a=b", "a\r\nb", "a\n", "a\r", "a,b", 'a"b', "a\x00", "café", "a/b"])
    def test_bad_names_are_refused(self, name):
        with pytest.raises(ValueError):
            format_set_cookie(name, "v")

    def test_token_names_are_accepted(self):
        assert format_set_cookie("__Host-a.b_c!#$%&'*+^`|~", "v").startswith("__Host-a.b_c!#$%&'*+^`|~=v")

    def test_max_age_adds_expires(self):
        parts = self.parts(format_set_cookie("n", "v", max_age=3600))
        assert "Max-Age=3600" in parts
        expires = [p for p in parts if p.startswith("Expires=")]
        assert len(expires) == 1
        when = email.utils.parsedate_to_datetime(expires[0][len("Expires="):])
        assert when.tzinfo is not None

    def test_explicit_expires(self):
        parts = self.parts(format_set_cookie("n", "v", expires=0))
        assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in parts
        assert not any(p.startswith("Max-Age") for p in parts)

    def test_path_and_domain(self):
        parts = self.parts(format_set_cookie("n", "v", path="/admin", domain="example.com"))
        assert "Path=/admin" in parts
        assert "Domain=example.com" in parts

    def test_no_path(self):
        assert not any(p.startswith("Path=") for p in self.parts(format_set_cookie("n", "v", path=None)))

    @pytest.mark.parametrize("bad", ["/a;b", "/a\r\nX: y", "/a\n", "/\x00"])
    def test_bad_path_or_domain_refused(self, bad):
        with pytest.raises(ValueError):
            format_set_cookie("n", "v", path=bad)
        with pytest.raises(ValueError):
            format_set_cookie("n", "v", domain=bad)

    def test_flags(self):
        parts = self.parts(format_set_cookie("n", "v", secure=True, http_only=False, partitioned=True))
        assert "Secure" in parts
        assert "HttpOnly" not in parts
        assert "Partitioned" in parts

    @pytest.mark.parametrize(("given", "sent"), [("lax", "Lax"), ("Strict", "Strict"), ("STRICT", "Strict")])
    def test_same_site(self, given, sent):
        assert f"SameSite={sent}" in self.parts(format_set_cookie("n", "v", same_site=given))

    def test_same_site_none_forces_secure(self):
        parts = self.parts(format_set_cookie("n", "v", same_site="none", secure=False))
        assert "SameSite=None" in parts
        assert "Secure" in parts

    @pytest.mark.parametrize("name", ["__Host-sid", "__Secure-sid", "__host-sid"])
    def test_prefixed_names_are_always_secure(self, name):
        # browsers ignore a __Host-/__Secure- cookie without Secure, even a deletion
        assert "Secure" in self.parts(format_set_cookie(name, "v", secure=False))
        assert "Secure" in self.parts(format_set_cookie(name, "", max_age=0, same_site=None))

    def test_same_site_omitted(self):
        assert not any(p.startswith("SameSite") for p in self.parts(format_set_cookie("n", "v", same_site=None)))

    def test_bad_same_site_refused(self):
        with pytest.raises(ValueError):
            format_set_cookie("n", "v", same_site="sometimes")


# --- content negotiation ---------------------------------------------------------


class TestAccepts:
    def test_no_header_accepts_the_first_offer(self):
        assert accepts(None, ("json", "html")) == "json"
        assert accepts("", ("html", "json")) == "html"

    def test_nothing_offered(self):
        assert accepts("text/html", ()) is None

    def test_short_names_and_mime_types(self):
        assert accepts("application/json", ("html", "json")) == "json"
        assert accepts("application/json", ("text/html", "application/json")) == "application/json"
        assert accepts("text/plain", ("json", "text")) == "text"

    def test_quality_values_are_respected(self):
        header = "application/json;q=0.5, text/html;q=0.9"
        assert accepts(header, ("json", "html")) == "html"
        assert accepts("text/html;q=0.1, application/json", ("html", "json")) == "json"

    def test_q_zero_refuses(self):
        assert accepts("application/json;q=0", ("json",)) is None
        assert accepts("text/html, application/json;q=0", ("json",)) is None

    def test_wildcards(self):
        assert accepts("text/*", ("json", "html")) == "html"
        assert accepts("*/*", ("json", "html")) == "json"
        assert accepts("image/png", ("json", "html")) is None

    def test_specific_beats_wildcard_at_equal_q(self):
        assert accepts("*/*, text/html", ("json", "html")) == "html"
        assert accepts("text/*, text/plain", ("html", "text")) == "text"

    def test_equal_ranges_follow_header_order_then_offer_order(self):
        assert accepts("application/json, text/html", ("html", "json")) == "json"
        assert accepts("text/html, application/json", ("json", "html")) == "html"
        assert accepts("*/*", ("html", "json")) == "html"

    def test_the_most_specific_matching_range_decides_an_offer(self):
        # RFC 9110 12.5.1: text/html;q=0 refuses HTML even though */* would accept it
        assert accepts("text/html;q=0, */*", ("html",)) is None
        assert accepts("text/html;q=0, */*", ("html", "json")) == "json"
        assert accepts("*/*;q=0.8, text/*;q=0", ("html", "json")) == "json"
        assert accepts("*/*;q=0.1, application/json;q=0.9", ("html", "json")) == "json"

    def test_offers_may_carry_parameters_and_any_case(self):
        assert accepts("text/html", ("text/html; charset=utf-8",)) == "text/html; charset=utf-8"
        assert accepts("TEXT/HTML", ("html",)) == "html"

    def test_browser_accept(self):
        browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        assert accepts(browser, ("json", "html")) == "html"

    def test_malformed_q_is_treated_as_zero(self):
        assert accepts("application/json;q=abc", ("json",)) is None

    def test_parse_accept_sorts_by_q_then_specificity(self):
        ranges = parse_accept("*/*;q=0.8, text/*, text/html, application/json;q=0.9")
        assert [m for m, _ in ranges] == ["text/html", "text/*", "application/json", "*/*"]
        assert parse_accept(None) == [("*/*", 1.0)]


class TestWantsHtml:
    def test_browsers_want_html(self):
        assert wants_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        assert wants_html("text/html")

    def test_api_clients_do_not(self):
        assert not wants_html(None)
        assert not wants_html("")
        assert not wants_html("*/*")
        assert not wants_html("application/json")
        assert not wants_html("application/json, text/html")
        assert not wants_html("text/html;q=0.5, application/json")

    def test_html_preferred_over_json(self):
        assert wants_html("application/json;q=0.5, text/html")
        assert wants_html("*/*, text/html")


# --- ranges ----------------------------------------------------------------------


class TestParseRange:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            ("bytes=0-4", (0, 4)),
            ("bytes=5-9", (5, 9)),
            ("bytes=0-0", (0, 0)),
            ("bytes=95-", (95, 99)),  # open-ended
            ("bytes=0-", (0, 99)),
            ("bytes=-10", (90, 99)),  # suffix: the last 10 bytes
            ("bytes=-1000", (0, 99)),  # suffix longer than the file: all of it
            ("bytes=50-1000", (50, 99)),  # end clamped to the file
            ("bytes=99-99", (99, 99)),
            ("BYTES=1-2", (1, 2)),
            ("bytes= 1-2 ", (1, 2)),
        ],
    )
    def test_satisfiable(self, header, expected):
        assert parse_range(header, 100) == expected

    @pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=500-600", "bytes=-0"])
    def test_unsatisfiable_is_false(self, header):
        assert parse_range(header, 100) is False

    def test_empty_file(self):
        # no first-pos can be inside an empty file: 416
        assert parse_range("bytes=0-", 0) is False
        # a non-zero suffix is satisfiable (RFC 9110 14.1.3): send the (empty) file whole
        assert parse_range("bytes=-5", 0) is None

    @pytest.mark.parametrize(
        "header",
        [
            None,
            "",
            "bytes=0-1,3-4",  # several ranges: serve the whole file
            "bytes=0-1, 5-",
            "items=0-4",
            "bytes=4-1",  # end before start
            "bytes=abc",
            "bytes=a-b",
            "bytes=1-x",
            "bytes=-",
            "bytes=--5",
            "bytes=+1-2",
            "bytes=1.5-2",
            "bytes",
            "bytes=",
        ],
    )
    def test_absent_invalid_or_multi_range_is_none(self, header):
        assert parse_range(header, 100) is None

    def test_huge_numbers_do_not_crash(self):
        assert parse_range("bytes=0-" + "9" * 40, 100) == (0, 99)
        assert parse_range("bytes=" + "9" * 40 + "-", 100) is False

    def test_non_ascii_digits_are_not_numbers(self):
        # RFC 9110 DIGIT is ASCII only; '١٢' (Arabic-Indic) or '²' must not parse
        assert parse_range("bytes=\u0661-\u0662", 100) is None
        assert parse_range("bytes=0-\u00b2", 100) is None


def test_http_date_is_imf_fixdate():
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"


# --- header safety -------------------------------------------------------------


class TestCheckHeader:
    def test_ordinary_headers_pass(self):
        check_header("X-Custom", "some value; with=params, and \"quotes\"")
        check_header("content-type", "text/html; charset=utf-8")
        check_header("x-utf8", "café")

    @pytest.mark.parametrize("value", ["a\r\nX-Evil: 1", "a\nb", "a\rb", "a\x00b"])
    def test_values_that_split_a_response_are_refused(self, value):
        with pytest.raises(ValueError):
            check_header("x-test", value)

    @pytest.mark.parametrize("name", ["", "x test", "x:y", "x\r\ny", "x\n", "caf\u00e9", "a(b)"])
    def test_bad_names_are_refused(self, name):
        with pytest.raises(ValueError):
            check_header(name, "v")


class TestEncodeUrl:
    def test_plain_urls_are_unchanged(self):
        for url in [
            "/",
            "/a/b?x=1&y=2#frag",
            "https://example.com:8080/p?q=1",
            "/search?q=a+b",
            "mailto:someone@example.com",
        ]:
            assert encode_url(url) == url

    def test_existing_escapes_are_kept(self):
        assert encode_url("/a%20b/%2F") == "/a%20b/%2F"

    def test_lone_percent_is_escaped(self):
        assert encode_url("/100%") == "/100%25"
        assert encode_url("/%zz") == "/%25zz"

    def test_unsafe_characters_are_escaped(self):
        assert encode_url("/a b") == "/a%20b"
        assert encode_url("/café") == "/caf%C3%A9"
        assert encode_url('/"<>') == "/%22%3C%3E"

    @pytest.mark.parametrize("url", ["/x\r\nSet-Cookie: a=b", "/x\nLocation: //evil", "/a\x00b", "/a\rb"])
    def test_crlf_and_nul_cannot_split_headers(self, url):
        encoded = encode_url(url)
        assert "\r" not in encoded and "\n" not in encoded and "\x00" not in encoded
        check_header("location", encoded)  # does not raise


# --- signing ---------------------------------------------------------------------


class TestSigning:
    def test_round_trip(self):
        signed = sign("s3cret", "user-42")
        assert signed != "user-42"
        assert signed.startswith("user-42.")
        assert unsign("s3cret", signed) == "user-42"

    def test_bytes_secret(self):
        assert unsign(b"key", sign(b"key", "v")) == "v"

    def test_unicode_and_separator_values(self):
        for value in ["café", "a.b.c", "", "with space", "s:nested"]:
            assert unsign("k", sign("k", value)) == value

    def test_wrong_secret_is_refused(self):
        assert unsign("other", sign("s3cret", "v")) is None

    def test_tampered_value_is_refused(self):
        signed = sign("s3cret", "user-42")
        value, _, signature = signed.rpartition(".")
        assert unsign("s3cret", f"user-43.{signature}") is None
        assert unsign("s3cret", f"{value}x.{signature}") is None

    def test_tampered_signature_is_refused(self):
        signed = sign("s3cret", "v")
        flipped = signed[:-1] + ("A" if signed[-1] != "A" else "B")
        assert unsign("s3cret", flipped) is None

    @pytest.mark.parametrize("junk", ["", "v", "v.", ".", "v.!!!", "no-dot-at-all"])
    def test_garbage_is_refused(self, junk):
        assert unsign("s3cret", junk) is None

    def test_signature_is_deterministic_and_depends_on_the_value(self):
        assert sign("k", "a") == sign("k", "a")
        assert sign("k", "a").split(".")[-1] != sign("k", "b").split(".")[-1]
        assert sign("k1", "a") != sign("k2", "a")
