"""Typed handlers: ``body`` and ``query`` parameters decoded and validated by msgspec.

At registration, :func:`plan_for` reads a handler's signature once. A parameter named
``body`` or ``query`` annotated with a msgspec ``Struct``, a dataclass or a
``TypedDict`` (a body may also be ``list[...]`` of them) gets a decoder built now: a
strict msgspec JSON decoder for the body, a per-field converter for the query string.
The plan's :attr:`TypedPlan.endpoint` is ``async (req, res) -> result``: it decodes,
validates and calls the handler with ``(req, ...)`` or ``(req, res, ...)``, passing the
typed values by name. Handlers without such parameters get no plan and pay nothing.

Validation failures are ``422`` problem+json with an ``errors`` list naming *every*
bad field by its JSON path. msgspec stops at the first error, so the full list comes
from a second pass that runs only when the first decode failed: the body is decoded
again untyped and each field is checked against its declared type on its own
(:func:`body_errors`). A valid request pays for one msgspec decode, nothing more.
Malformed JSON stays a ``400``; a non-JSON Content-Type is a ``415``, as for
``req.json()``.

This module is low in the stack: it imports msgspec and ``nexpress.http`` only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, NotRequired, Required, Union, get_args, get_origin

import msgspec

from ..http.calls import is_async_callable
from ..http.errors import BadRequest, HTTPError
from ..http.negotiation import require_json
from ..http.query import MultiDict

__all__ = [
    "MISSING",
    "TypedPlan",
    "ValidationFailed",
    "body_errors",
    "handler_arity",
    "is_model",
    "plan_for",
    "positional_arity",
    "return_annotation",
]

TYPED_PARAMETERS = ("body", "query")
MISSING: Any = inspect.Parameter.empty
_SEQUENCES = (list, set, frozenset, tuple)
MAX_ERRORS = 100  # a 422 lists at most this many fields
_TRUE = frozenset(("true", "1", "yes", "on"))
_FALSE = frozenset(("false", "0", "no", "off"))


class ValidationFailed(HTTPError):
    """422 problem+json whose ``errors`` lists every bad field:
    ``[{"path": "$.user.email", "message": "...", "in": "body"}]``."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        count = len(errors)
        first = errors[0]
        detail = f"{first['path']}: {first['message']}"
        if count >= MAX_ERRORS:
            detail = f"{count} or more invalid fields (the first {count} are listed); first {detail}"
        elif count > 1:
            detail = f"{count} invalid fields; first {detail}"
        super().__init__(422, detail, title="Validation failed", errors=errors)
        self.errors = errors


# --- types ---------------------------------------------------------------------------


def is_model(tp: Any) -> bool:
    """A msgspec Struct, dataclass or TypedDict class: an object with named fields."""
    return isinstance(tp, type) and (
        issubclass(tp, msgspec.Struct) or dataclasses.is_dataclass(tp) or typing.is_typeddict(tp)
    )


def _strip(tp: Any) -> Any:
    """``Annotated[X, ...]``, ``Required[X]``, ``NotRequired[X]`` -> X."""
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated:
            tp = tp.__origin__
        elif origin in (Required, NotRequired):
            tp = get_args(tp)[0]
        else:
            return tp


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (tp, False)."""
    base = _strip(tp)
    origin = get_origin(base)
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(base) if a is not type(None)]
        if len(args) == 1 and len(args) < len(get_args(base)):
            return args[0], True
    return tp, False


def _is_body_type(tp: Any) -> bool:
    base = _strip(tp)
    if is_model(base):
        return True
    return get_origin(base) is list and len(get_args(base)) == 1 and is_model(_strip(get_args(base)[0]))


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    """One field of a model: its JSON key, declared type and whether it is required."""

    key: str
    type: Any
    required: bool


@functools.lru_cache(maxsize=512)
def model_fields(tp: type) -> tuple[tuple[Field, ...], bool]:
    """The fields of a Struct, dataclass or TypedDict, and whether unknown keys are refused."""
    if issubclass(tp, msgspec.Struct):
        fields = tuple(Field(f.encode_name, f.type, f.required) for f in msgspec.structs.fields(tp))
        return fields, bool(tp.__struct_config__.forbid_unknown_fields)
    hints = typing.get_type_hints(tp, include_extras=True)
    if dataclasses.is_dataclass(tp):
        return tuple(
            Field(f.name, hints.get(f.name, Any), f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
            for f in dataclasses.fields(tp)
            if f.init
        ), False
    required = tp.__required_keys__
    return tuple(Field(name, _strip_required(hint), name in required) for name, hint in hints.items()), False


def _strip_required(tp: Any) -> Any:
    """TypedDict's ``Required[X]`` / ``NotRequired[X]`` -> X (kept in ``__required_keys__``)."""
    while get_origin(tp) in (Required, NotRequired):
        tp = get_args(tp)[0]
    return tp


# --- signatures ----------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _known_signature(fn: Callable) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _signature(fn: Callable) -> inspect.Signature | None:
    """``inspect.signature`` once per handler: registering and compiling a route read it
    several times (typed plan, arity), and one function often serves many routes; a
    signature is immutable. An unhashable callable is read each time."""
    try:
        return _known_signature(fn)
    except TypeError:  # unhashable
        try:
            return inspect.signature(fn)
        except (TypeError, ValueError):
            return None


def _hints(fn: Callable) -> dict[str, Any]:
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else getattr(fn, "__call__", fn)  # noqa: B004
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:
        raise TypeError(
            f"cannot read the type annotations of {_name(fn)}: {type(exc).__name__}: {exc}."
            " Typed 'body'/'query' parameters need annotations that resolve at import time"
            " (define the model classes at module level)"
        ) from None


def _name(fn: Callable) -> str:
    return repr(getattr(fn, "__qualname__", fn))


def typed_parameters(fn: Callable) -> dict[str, Any]:
    """``{"body": Type, "query": Type}`` for the typed parameters of ``fn`` (may be empty).

    A parameter named ``body`` or ``query`` must be annotated with a Struct, dataclass
    or TypedDict (a body also ``list[...]`` of them); anything else is a TypeError here,
    at registration, naming the fix."""
    sig = _signature(fn)
    if sig is None or not any(name in sig.parameters for name in TYPED_PARAMETERS):
        return {}
    hints = _hints(fn)
    found: dict[str, Any] = {}
    for name in TYPED_PARAMETERS:
        param = sig.parameters.get(name)
        if param is None:
            continue
        annotation = hints.get(name, MISSING)
        ok = _is_body_type(annotation) if name == "body" else is_model(_strip(annotation))
        if annotation is MISSING or not ok:
            allowed = "a msgspec Struct, a dataclass or a TypedDict" + (" (or list[...] of them)" if name == "body" else "")
            got = "no annotation" if annotation is MISSING else f"{annotation!r}"
            raise TypeError(f"parameter {name!r} of handler {_name(fn)} must be annotated with {allowed}; got {got}")
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            raise TypeError(f"parameter {name!r} of handler {_name(fn)} must be passable by name (not positional-only or *args)")
        found[name] = annotation
    plain = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    seen_typed = False
    for param in plain:
        if param.name in found:
            seen_typed = True
        elif seen_typed and param.default is param.empty:
            raise TypeError(
                f"handler {_name(fn)}: put (req) or (req, res) first and the typed parameters"
                f" {sorted(found)} after them"
            )
    return found


def positional_arity(fn: Callable) -> int:
    """How many positional arguments ``fn`` takes (3 for ``*args``; 2 when unknowable,
    as for builtins), read once at registration: middleware, actions, loaders."""
    sig = _signature(fn)
    return 2 if sig is None else _count_positional(sig, ())


def handler_arity(fn: Callable) -> int:
    """Positional parameters of a handler, not counting typed ``body``/``query``:
    1 for ``(req, ...)``, 2 for ``(req, res, ...)`` (and when unknowable, as for builtins)."""
    sig = _signature(fn)
    return 2 if sig is None else _count_positional(sig, typed_parameters(fn))


def _count_positional(sig: inspect.Signature, skip: Any) -> int:
    """The one arity rule: positional parameters not in ``skip``; ``*args`` counts as 3."""
    count = 0
    for param in sig.parameters.values():
        if param.kind == param.VAR_POSITIONAL:
            return 3
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD) and param.name not in skip:
            count += 1
    return count


def return_annotation(fn: Callable) -> Any:
    """The handler's return annotation (the response schema), or MISSING."""
    sig = _signature(fn)
    if sig is None or sig.return_annotation is sig.empty:
        return MISSING
    try:
        return _hints(fn).get("return", MISSING)
    except TypeError:
        return MISSING


# --- the body ------------------------------------------------------------------------


def _split_message(exc: msgspec.ValidationError, base: str) -> dict[str, str]:
    """msgspec's "Expected `int`, got `str` - at `$.a[0]`" as {path, message} under ``base``."""
    text = str(exc)
    message, sep, where = text.rpartition(" - at `")
    if not sep:
        return {"path": base, "message": text}
    return {"path": base + where.rstrip("`")[1:], "message": message}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "str", bool: "bool", int: "int", float: "float"}.get(type(value), type(value).__name__)


def _collect(value: Any, tp: Any, path: str, out: list[dict[str, str]]) -> None:
    """Append an error for every field of ``value`` (decoded JSON) that ``tp`` refuses
    (at most MAX_ERRORS: a hostile body must not buy a huge answer)."""
    if len(out) >= MAX_ERRORS:
        return
    inner, optional = _unwrap_optional(tp)
    if value is None and optional:
        return
    base = _strip(inner)
    if is_model(base):
        before = len(out)
        if not isinstance(value, dict):
            out.append({"path": path, "message": f"Expected `object`, got `{_json_type(value)}`"})
            return
        fields, forbid_unknown = model_fields(base)
        for field in fields:
            if field.key in value:
                _collect(value[field.key], field.type, f"{path}.{field.key}", out)
            elif field.required:
                out.append({"path": f"{path}.{field.key}", "message": f"Object missing required field `{field.key}`"})
        if forbid_unknown:
            known = {field.key for field in fields}
            out.extend(
                {"path": f"{path}.{key}", "message": f"Object contains unknown field `{key}`"}
                for key in value
                if key not in known
            )
        if len(out) > before:
            return
    elif get_origin(base) in _SEQUENCES and isinstance(value, list):
        args = get_args(base)
        if args and (len(args) == 1 or args[-1] is Ellipsis):
            before = len(out)
            for index, item in enumerate(value):
                _collect(item, args[0], f"{path}[{index}]", out)
            if len(out) > before:
                return
    try:  # a leaf, or a model/container whose fields passed: constraints on the whole
        msgspec.convert(value, tp, strict=True)
    except msgspec.ValidationError as exc:
        out.append(_split_message(exc, path))


def body_errors(data: bytes, tp: Any, first: msgspec.ValidationError) -> list[dict[str, str]]:
    """Every invalid field of a JSON body that failed to decode as ``tp`` (the second,
    error-path-only pass). Raises BadRequest if the body is not JSON at all."""
    try:
        value = msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise _malformed(data, exc) from None
    errors: list[dict[str, str]] = []
    try:
        _collect(value, tp, "$", errors)
    except RecursionError:  # a recursive model nested very deep: msgspec's message will do
        errors = []
    del errors[MAX_ERRORS:]
    if not errors:  # the second pass found nothing (e.g. a Struct's __post_init__): msgspec's own
        errors.append(_split_message(first, "$"))
    for error in errors:
        error["in"] = "body"
    return errors


def _malformed(data: bytes, exc: Exception) -> BadRequest:
    if not data.strip():
        return BadRequest("The request body is empty; expected JSON")
    if isinstance(exc, UnicodeDecodeError):
        return BadRequest("Malformed JSON: the body is not valid UTF-8")
    if isinstance(exc, RecursionError):
        return BadRequest("Malformed JSON: nested too deeply")
    return BadRequest(f"Malformed JSON: {exc}")


class BodyReader:
    """Reads and decodes a typed JSON body (strict msgspec decoder built once)."""

    __slots__ = ("decode", "type")

    def __init__(self, tp: Any) -> None:
        self.type = tp
        self.decode = msgspec.json.Decoder(tp).decode

    async def read(self, req: Any) -> Any:
        require_json(req.headers.raw_get(b"content-type"))
        data = await req.body()
        try:
            return self.decode(data)
        except msgspec.ValidationError as exc:  # a DecodeError subclass: catch it first
            raise ValidationFailed(body_errors(data, self.type, exc)) from None
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise _malformed(data, exc) from None


# --- the query string ----------------------------------------------------------------

_SCALAR, _BOOL, _LIST, _BOOL_LIST = 0, 1, 2, 3


def _query_kind(field: Field, model: type) -> int:
    inner = _strip(_unwrap_optional(field.type)[0])
    if is_model(inner):
        raise TypeError(
            f"query field {field.key!r} of {model.__qualname__} is an object ({inner.__qualname__});"
            " query strings carry scalars and lists of scalars: take it as a JSON body instead"
        )
    if get_origin(inner) in _SEQUENCES:
        item = _strip(_unwrap_optional((get_args(inner) or (str,))[0])[0])
        if is_model(item):
            raise TypeError(f"query field {field.key!r} of {model.__qualname__} is a list of objects; use a JSON body")
        return _BOOL_LIST if item is bool else _LIST
    return _BOOL if inner is bool else _SCALAR


def _bool_text(value: str) -> str:
    """'yes'/'on' -> 'true', 'no'/'off' -> 'false'; msgspec takes true/false/1/0."""
    lowered = value.lower()
    if lowered in _TRUE:
        return "true"
    if lowered in _FALSE:
        return "false"
    return value


class QueryReader:
    """Converts the query string into a model, field by field: each declared key is
    read once (every value for list fields, from repeated keys), booleans accept
    true/false/1/0/yes/no/on/off, and msgspec's lax conversion turns strings into
    int, float, enums, datetime, date, UUID, Decimal... Unknown keys are ignored."""

    __slots__ = ("fields", "specs", "type")

    def __init__(self, tp: type) -> None:
        self.type = tp
        fields, _ = model_fields(tp)
        self.fields = fields
        self.specs = tuple((field.key, _query_kind(field, tp)) for field in fields)

    def read(self, query: MultiDict) -> Any:
        data = self.collect(query)
        try:
            return msgspec.convert(data, self.type, strict=False)
        except msgspec.ValidationError as exc:
            raise ValidationFailed(self.errors(data, exc)) from None

    def collect(self, query: MultiDict) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, kind in self.specs:
            if kind >= _LIST:
                values = query.getall(key)
                if values:
                    data[key] = [_bool_text(v) for v in values] if kind == _BOOL_LIST else values
            else:
                value = query.get(key)
                if value is not None:
                    data[key] = _bool_text(value) if kind == _BOOL else value
        return data

    def errors(self, data: dict[str, Any], first: msgspec.ValidationError) -> list[dict[str, str]]:
        """Every bad parameter (the error path only: msgspec stopped at the first)."""
        errors = []
        for field in self.fields:
            if field.key not in data:
                if field.required:
                    errors.append({"path": f"$.{field.key}", "message": "Required query parameter is missing"})
                continue
            try:
                msgspec.convert(data[field.key], field.type, strict=False)
            except msgspec.ValidationError as exc:
                errors.append(_split_message(exc, f"$.{field.key}"))
        if not errors:
            errors.append(_split_message(first, "$"))
        for error in errors:
            error["in"] = "query"
        return errors


# --- the plan ------------------------------------------------------------------------


@dataclasses.dataclass(slots=True, eq=False)
class TypedPlan:
    """What a typed handler needs per request, decided at registration."""

    handler: Callable
    body_type: Any  # the annotation, or None
    query_type: Any
    returns: Any  # the return annotation (response schema), or MISSING
    status: int
    wants_res: bool
    is_async: bool
    body: BodyReader | None = None
    query: QueryReader | None = None
    endpoint: Callable = None  # type: ignore[assignment]  # async (req, res) -> result
    # async (req) -> result, for the invoker's fast path (no Response object up front):
    # set for async handlers that take no res (the invoker sends ``status``)
    request_endpoint: Callable | None = None


async def _inputs(plan: TypedPlan, req: Any) -> dict[str, Any]:
    """Decode query and body; report the errors of both in one 422."""
    values: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    if plan.query is not None:
        try:
            values["query"] = plan.query.read(req.query)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if plan.body is not None:
        try:
            values["body"] = await plan.body.read(req)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return values


def _body_endpoint(handler: Callable, reader: BodyReader, status: int) -> Callable:
    """The common case, kept lean: ``async def h(req, body: T)``."""
    read = reader.read

    async def endpoint(req: Any, res: Any) -> Any:
        res.status_code = status
        return await handler(req, body=await read(req))

    return endpoint


def _request_endpoint(plan: TypedPlan) -> Callable:
    """``async (req) -> result`` for an async handler without ``res``."""
    handler = plan.handler
    if plan.body is not None and plan.query is None:
        read = plan.body.read

        async def body_only(req: Any) -> Any:
            return await handler(req, body=await read(req))

        return body_only

    async def endpoint(req: Any) -> Any:
        return await handler(req, **await _inputs(plan, req))

    return endpoint


def _general_endpoint(plan: TypedPlan) -> Callable:
    handler, status, wants_res, is_async = plan.handler, plan.status, plan.wants_res, plan.is_async

    async def endpoint(req: Any, res: Any) -> Any:
        res.status_code = status
        values = await _inputs(plan, req)
        args = (req, res) if wants_res else (req,)
        if is_async:
            return await handler(*args, **values)
        return await asyncio.to_thread(functools.partial(handler, *args, **values))

    return endpoint


def _check_status(status: Any, fn: Callable) -> int:
    if status is None:
        return 200
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise TypeError(f"status={status!r} for handler {_name(fn)} must be an HTTP status code (200-599)")
    return status


def plan_for(fn: Callable, status: int | None = None) -> TypedPlan | None:
    """The plan for a handler with typed ``body``/``query`` parameters or a ``status=``
    option; None for plain handlers (they run exactly as before)."""
    typed = typed_parameters(fn)
    if not typed and status is None:
        return None
    body_type, query_type = typed.get("body"), typed.get("query")
    plan = TypedPlan(
        handler=fn,
        body_type=body_type,
        query_type=query_type,
        returns=return_annotation(fn),
        status=_check_status(status, fn),
        wants_res=handler_arity(fn) == 2,
        is_async=is_async_callable(fn),
        body=BodyReader(body_type) if body_type is not None else None,
        query=QueryReader(_strip(query_type)) if query_type is not None else None,
    )
    if plan.body is not None and plan.query is None and plan.is_async and not plan.wants_res:
        plan.endpoint = _body_endpoint(fn, plan.body, plan.status)
    else:
        plan.endpoint = _general_endpoint(plan)
    if plan.is_async and not plan.wants_res:
        plan.request_endpoint = _request_endpoint(plan)
    return plan
