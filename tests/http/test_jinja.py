"""nexpress.http._jinja: Jinja2's environment with cheaper outputs and dict reads, and
every rendered byte the same as Jinja2's own."""

from __future__ import annotations

import enum
from typing import Any

import jinja2
import markupsafe
import pytest

from nexpress.http._jinja import Context, Environment, TemplateGlobals, escape_output


class Html:
    def __html__(self) -> str:
        return "<b>trusted</b>"


class Shouting(str):
    pass


class Level(enum.IntEnum):
    HIGH = 3


VALUES: list[Any] = [
    "plain", "", "<script>alert('x')</script>", 'a "quoted" & <tagged> \'value\'', "é ✓ \x00",
    0, -12, 10**30, True, False, 1.5, float("nan"), None, Level.HIGH, Shouting("<loud>"),
    markupsafe.Markup("<i>safe</i>"), Html(), ["<li>"], {"k": "<v>"},
]  # fmt: skip


@pytest.mark.parametrize("value", VALUES, ids=[f"{type(v).__name__}-{i}" for i, v in enumerate(VALUES)])
def test_an_output_is_escaped_exactly_as_markupsafe_escapes_it(value: Any) -> None:
    assert escape_output(value) == str(markupsafe.escape(value))


def test_undefined_values_render_as_jinja_renders_them() -> None:
    assert escape_output(jinja2.Undefined(name="missing")) == ""
    with pytest.raises(jinja2.UndefinedError):
        escape_output(jinja2.StrictUndefined(name="missing"))


TEMPLATES = {
    "macros.html": (
        '{% macro card(title, body) %}<div title="{{ title }}">{{ caller() if caller else body }}</div>{% endmacro %}'
        "{% set icon %}<svg>{{ shape }}</svg>{% endset %}"
    ),
    "page.html": (
        "{% import 'macros.html' as m %}"
        "{{ post.title }}|{{ post.items }}|{{ post.get('title') }}|{{ post.missing }}|{{ post['title'] }}|{{ obj.name }}"
        "|{{ m.card('<t>', post.body) }}|{% call m.card('x', '') %}{{ post.body }}{% endcall %}"
        "|{{ post.body|e }}|{{ post.body|safe }}|{{ '<lit>' }}|{{ n }}|{{ n + 1 }}|{{ flag }}"
        "|{% for row in rows %}{{ row.id }}:{{ row.label }};{% endfor %}"
        "|{{ (post.body ~ '&')|length }}|{% autoescape false %}{{ post.body }}{% endautoescape %}|{{ extra }}"
    ),
}


class Obj:
    name = "<obj>"


CONTEXT = {
    "post": {"title": "A & B", "body": "<p>'hi'</p>", "items": "shadowed"},
    "obj": Obj(),
    "n": 41,
    "flag": True,
    "rows": [{"id": 1, "label": "<one>"}, {"id": 2, "label": "two"}],
    "shape": "<circle/>",
}


def environments(**options: Any) -> tuple[jinja2.Environment, jinja2.Environment]:
    loader = jinja2.DictLoader(TEMPLATES)
    return jinja2.Environment(loader=loader, autoescape=True, **options), Environment(
        loader=loader, autoescape=True, **options
    )


def test_templates_render_the_same_bytes_as_with_jinja2s_own_environment() -> None:
    theirs, ours = environments()
    for env in (theirs, ours):
        env.globals["extra"] = "<added after creation>"
    expected = theirs.get_template("page.html").render(CONTEXT)
    assert ours.get_template("page.html").render(CONTEXT) == expected
    assert (
        "A &amp; B|&lt;built-in method items" in expected
    )  # a dict's own attribute wins, as in Jinja2
    assert "1:&lt;one&gt;;2:two;" in expected


def test_a_missing_dict_key_is_undefined_and_strict_mode_names_it() -> None:
    theirs, ours = environments(undefined=jinja2.StrictUndefined)
    template = "{{ post.nope }}"
    errors = []
    for env in (theirs, ours):
        with pytest.raises(jinja2.UndefinedError) as raised:
            env.from_string(template).render(post={"title": "x"})
        errors.append(str(raised.value))
    assert errors[0] == errors[1] and "nope" in errors[0]


def test_an_import_sees_template_globals_the_imported_template_lacks() -> None:
    """Jinja2 renders the imported module again when the importing template has globals
    the imported one has not (``get_template(..., globals=...)``): kept."""
    loader = jinja2.DictLoader(
        {
            "m.html": "{% set shown = local_only|default('none') %}",
            "p.html": "{% import 'm.html' as m %}{{ m.shown }}",
        }
    )
    for env_class in (jinja2.Environment, Environment):
        env = env_class(loader=loader, autoescape=True)
        assert (
            env.get_template("p.html", globals={"local_only": "<mine>"}).render() == "&lt;mine&gt;"
        )


def test_template_globals_keys_are_every_layers_keys() -> None:
    env = Environment()
    env.globals["late"] = 1
    globals_ = env.make_globals({"own": 2})
    assert isinstance(globals_, TemplateGlobals)
    assert {"own", "late", "range"} <= globals_.keys() and globals_["late"] == 1
    assert {"own", "nope"} - globals_.keys() == {"nope"}


class Counter:
    def __init__(self) -> None:
        self.items = iter(["one"])

    def next(self) -> str:
        return next(self.items)

    def label(self, value: object, *, suffix: str = "") -> str:
        return f"<{value}{suffix}>"

    @jinja2.pass_context
    def __call__(self, context: Any, suffix: str) -> str:
        return f"{context['name']}{suffix}"

    @jinja2.pass_context
    def greet(self, context: Any) -> str:
        return "hi " + context["name"]


CALLS = (
    "{% macro badge(x, loud=False) %}[{{ x }}{{ '!' if loud }}{{ caller() if caller }}]{% endmacro %}"
    "{{ c.next() }} {{ c.next() is undefined }} {{ c('!') }} {{ c.greet() }} {{ n.split(sep=',') | join('+') }}"
    " {{ 'x y'.split() | length }} {{ who() }} {{ badge(1) }} {{ badge(2, loud=True) }}"
    "{% call badge(3) %}c{% endcall %}"
    "{% for row in rows %}{% set seen = row ~ '*' %}{{ c.label(row, suffix='/') }}{{ badge(row) }}{{ who_loop() }}{{ d.get(row) }};{% endfor %}"
)


def test_the_template_context_calls_as_jinja2_does() -> None:
    """nexpress's Context calls plain bound methods and macros directly; everything
    that may want the context (pass_context functions and methods, callable objects,
    calls inside loops that see the loop's variables) is Jinja2's own call."""
    environment = jinja2.Environment(autoescape=True)
    template = environment.from_string(CALLS)
    values = {
        "name": "ann", "n": "a,b", "rows": ["r1", "r2"], "d": {"r1": 1},
        "who": jinja2.pass_context(lambda context: context["name"]),
        "who_loop": jinja2.pass_context(lambda context: context.get("seen", "-")),
    }  # fmt: skip

    def render(context_class: type) -> str:
        context = context_class(environment, {**template.globals, **values, "c": Counter()}, None, {})
        return "".join(template.root_render_func(context))

    expected = "one True ann! hi ann a+b 2 ann [1] [2!][3c]&lt;r1/&gt;[r1]r1*1;&lt;r2/&gt;[r2]r2*None;"
    assert render(jinja2.runtime.Context) == expected
    assert render(Context) == expected
