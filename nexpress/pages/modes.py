"""A page's rendering mode (static, ISR, dynamic), declared explicitly and checked against its layouts at start-up."""

from __future__ import annotations

from types import ModuleType

from ..cache.explain import page_mode as decide
from .folders import FileRouteError, Layout
from .reasons import declared, module_facts

MODE_NAMES = {"static": "a static", "isr": "an ISR"}


def page_mode(module: ModuleType | None) -> tuple[str, int | None]:
    """A page's rendering mode, declared explicitly, never guessed from behaviour (the
    rule: ``nexpress.cache.explain.page_mode``); a bad ``revalidate`` stops start-up."""
    if module is None:
        return "static", None
    revalidate = getattr(module, "revalidate", None)
    dynamic = getattr(module, "dynamic", False) or getattr(module, "auth", False)
    if revalidate and not dynamic and (not isinstance(revalidate, int) or isinstance(revalidate, bool) or revalidate < 1):
        raise FileRouteError(f"{module.__file__}: revalidate must be a whole number of seconds >= 1")
    return decide(declared(module, getattr(module, "__file__", None) or "page.py"))


def check_layout_mode(module: ModuleType | None, source: str, layout: Layout) -> None:
    """A page that asks to be cached (``static = True``, ``revalidate``) below a layout
    with ``dynamic = True`` contradicts it: neither silently wins, the start-up error
    names both lines and the ways out."""
    if module is None:
        return
    declared = [name for name in ("static", "revalidate") if getattr(module, name, None)]
    if not declared:
        return
    name = declared[0]
    page_line = module_facts(module).assignments.get(name)
    layout_line = module_facts(layout.module).assignments.get("dynamic")
    page_at = f"{source}:{page_line}" if page_line else source
    layout_at = f"{layout.code}:{layout_line}" if layout_line else layout.code
    raise FileRouteError(
        f"{page_at} sets {name} = {getattr(module, name)!r}, but {layout_at} sets dynamic = True, which"
        f" renders every page below it per request: the page cannot be cached. Remove {name} from"
        f" {source} (the page becomes dynamic), or remove dynamic = True from {layout.code}, or move the"
        " pages that need the dynamic layout into a route group folder with that layout of its own"
        " (app/(account)/layout.py)."
    )


def requires_auth(module: ModuleType | None, layouts: list[Layout]) -> bool:
    if module is not None and getattr(module, "auth", False):
        return True
    return any(layout.module is not None and getattr(layout.module, "auth", False) for layout in layouts)
