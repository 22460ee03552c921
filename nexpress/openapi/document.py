"""The OpenAPI 3.1 document, built from the compiled route table.

Every API route of the one route table is an operation: Express routes (routers
under their prefixes included) and ``route.py`` functions. Pages, public files,
mounted ASGI apps and ``app.all()`` routes are not API operations and are left out.
What each operation says comes from the route and its typed plan
(:mod:`nexpress.typed.plan`): path parameters from the pattern, query parameters and
the request body from the typed ``query``/``body`` parameters, the success response
from the return annotation and ``status=``, the 4xx responses nexpress itself sends
(400, 404, 413, 415, 422 as problem+json), and ``tags``, ``summary``,
``description``, ``responses``, ``deprecated``, ``operation_id``, ``security`` from
the route options, else summary and description from the handler's docstring.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, get_args, get_origin

import msgspec

from ..middleware.chain import Middleware
from ..routing.endpoint import Endpoint
from ..routing.pattern import COMPLEX, PARAM, SPLAT, STATIC
from ..typed.plan import MISSING, is_model, return_annotation

OPENAPI_VERSION = "3.1.0"
API_KINDS = ("handler", "api")
REF = "#/components/schemas/{name}"

PROBLEM = "application/problem+json"
_PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An RFC 9457 problem document.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status"],
}
_VALIDATION_SCHEMA = {
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "properties": {
                "errors": {
                    "type": "array",
                    "description": "Every invalid field, by its JSON path.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "path": {"type": "string", "examples": ["$.user.email"]},
                            "message": {"type": "string"},
                            "in": {"type": "string", "enum": ["body", "query"]},
                        },
                        "required": ["path", "message"],
                    },
                }
            },
            "required": ["errors"],
        },
    ]
}
# status -> (component name, description)
ERRORS = {
    400: ("BadRequest", "Malformed request: bad JSON, an empty body, bad percent-encoding"),
    401: ("Unauthorized", "Authentication is required"),
    404: ("NotFound", "No such resource"),
    405: ("MethodNotAllowed", "The path exists but not for this method (see the Allow header)"),
    413: ("PayloadTooLarge", "The request body is larger than the route's limit"),
    415: ("UnsupportedMediaType", "The body is not JSON (send Content-Type: application/json)"),
    422: ("ValidationFailed", "The body or the query string failed validation; every bad field is listed"),
}
SESSION_SECURITY: dict[str, dict[str, Any]] = {
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "nexpress.session-token",
        "description": (
            "The session cookie nexpress.auth sets at sign-in (named __Secure-nexpress.session-token"
            " over HTTPS). Sign in through /api/auth (the auth endpoints) to get it."
        ),
    }
}
"""The security scheme of routes behind ``auth.required`` or ``auth = True``."""
_BODY_ERRORS = (400, 413, 415, 422)
_QUERY_ERRORS = (400, 422)
_METHOD_ORDER = {m: i for i, m in enumerate(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))}


def openapi_path(segments: tuple) -> str:
    """``/users/:id`` -> ``/users/{id}``; ``*path`` -> ``{path}``; ``:a-:b`` -> ``{a}-{b}``."""
    parts = []
    for seg in segments:
        if seg.kind == STATIC:
            parts.append(seg.text)
        elif seg.kind in (PARAM, SPLAT):
            parts.append("{" + seg.names[0] + "}")
        elif seg.kind == COMPLEX:
            parts.append(re.sub(r"[:*]([A-Za-z_$][\w$]*)", r"{\1}", seg.label.replace("\\", "")))
    return "/" + "/".join(parts)


def _path_parameters(route: Any) -> list[dict[str, Any]]:
    params = []
    for seg in route.segments:
        for name in seg.names:
            schema: dict[str, Any] = {"type": "string"}
            if seg.kind == SPLAT:
                schema["description"] = "One or more path segments (req.params gets a list)"
            params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def docstring_parts(fn: Callable) -> tuple[str | None, str | None]:
    """(summary, description): the docstring's first line, then the rest."""
    doc = inspect.getdoc(fn)
    if not doc:
        return None, None
    first, _, rest = doc.partition("\n")
    return first.strip() or None, rest.strip() or None


def type_name(tp: Any) -> str:
    """A short readable name: ``Post``, ``list[Post]``, ``Post | None``."""
    if tp is MISSING:
        return ""
    if tp is None or tp is type(None):
        return "None"
    origin = get_origin(tp)
    if origin is not None:
        args = ", ".join(type_name(a) for a in get_args(tp))
        name = getattr(origin, "__name__", None)
        if name in (None, "Union", "UnionType"):
            return " | ".join(type_name(a) for a in get_args(tp))
        if name == "Annotated":
            return type_name(get_args(tp)[0])
        return f"{name}[{args}]"
    return getattr(tp, "__name__", repr(tp))


def route_types(route: Any) -> dict[str, str]:
    """Body, query and response type names of a route (for ``nexpress routes``); a
    feature's :class:`Endpoint` names what it answers with (``html``, ``file``...)."""
    plan = route.plan
    handler = plan.handler if plan is not None else route.handler
    if plan is None and isinstance(handler, Endpoint):
        return {"body": "", "query": "", "response": handler.response_kind}
    returns = plan.returns if plan is not None else return_annotation(handler)
    return {
        "body": type_name(plan.body_type) if plan is not None and plan.body_type is not None else "",
        "query": type_name(plan.query_type) if plan is not None and plan.query_type is not None else "",
        "response": type_name(returns),
    }


def _schema_ok(tp: Any) -> bool:
    try:
        msgspec.json.schema(tp)
    except Exception:  # msgspec cannot describe it (a Response, a custom class): no schema
        return False
    return True


def _media_for(tp: Any) -> str | None:
    """The media type a returned value of this annotation is sent as, or None."""
    if tp is MISSING or tp is None or tp is type(None):
        return None
    if tp is str:
        return "text/html"
    if tp is bytes:
        return "application/octet-stream"
    if isinstance(tp, type) and not is_model(tp) and tp.__name__ == "Response":
        return None
    return "application/json" if _schema_ok(tp) else None


class _Schemas:
    """Collects the types the document needs, then asks msgspec for all their
    schemas at once (shared models become one component each)."""

    def __init__(self) -> None:
        self.types: dict[Any, None] = {}
        self.resolved: dict[Any, dict[str, Any]] = {}
        self.components: dict[str, Any] = {}

    def want(self, tp: Any) -> None:
        self.types.setdefault(tp, None)

    def resolve(self) -> None:
        types = list(self.types)
        if not types:
            return
        schemas, self.components = msgspec.json.schema_components(types, ref_template=REF)
        self.resolved = dict(zip(types, schemas, strict=True))

    def __getitem__(self, tp: Any) -> dict[str, Any]:
        return self.resolved[tp]

    def model(self, tp: Any) -> dict[str, Any]:
        """The component schema of a model type (its object schema, not the $ref)."""
        schema = self.resolved[tp]
        ref = schema.get("$ref")
        return self.components[ref.rsplit("/", 1)[1]] if ref else schema


class DocumentBuilder:
    """Builds the document for one compiled table; see the module docstring."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.error_model = config.get("error_model")
        self.error_media = config.get("error_media_type", "application/json")
        self.schemas = _Schemas()
        self.security_schemes: dict[str, Any] = dict(config.get("security_schemes") or {})
        self.used_errors: set[int] = set()
        self.query_components: set[str] = set()  # spread into parameters; dropped if unreferenced

    # --- the whole document -----------------------------------------------------------

    def build(self, routes: list[Any]) -> dict[str, Any]:
        groups = frozenset(self.config.get("include_groups") or ())
        api = sorted(
            (r for r in routes if _documented(r, groups)),
            key=lambda r: (openapi_path(r.segments), _METHOD_ORDER.get(r.method, 99)),
        )
        for route in api:
            self._want_types(route)
        if self.error_model is not None:
            self.schemas.want(self.error_model)
        self.schemas.resolve()
        ids = _operation_ids(api)
        paths: dict[str, dict[str, Any]] = {}
        for route in api:
            paths.setdefault(openapi_path(route.segments), {})[route.method.lower()] = self._operation(route, ids[id(route)])
        document: dict[str, Any] = {"openapi": OPENAPI_VERSION, "info": self._info()}
        for key in ("servers", "tags", "externalDocs"):
            if self.config.get(key):
                document[key] = self.config[key]
        document["paths"] = paths
        document["components"] = self._components(paths)
        if self.config.get("security"):
            document["security"] = self.config["security"]
        return document

    def _info(self) -> dict[str, Any]:
        info = {"title": self.config.get("title", "nexpress API"), "version": str(self.config.get("version", "0.1.0"))}
        for key in ("summary", "description", "termsOfService", "contact", "license"):
            if self.config.get(key):
                info[key] = self.config[key]
        return info

    def _components(self, paths: dict[str, Any]) -> dict[str, Any]:
        schemas = dict(self.schemas.components)
        responses = {}
        if self.error_model is None:
            schemas["Problem"] = _PROBLEM_SCHEMA
            if 422 in self.used_errors:
                schemas["ValidationProblem"] = _VALIDATION_SCHEMA
        for status in sorted(self.used_errors | {400, 404, 405, 413, 415, 422}):
            name, description = ERRORS.get(status, (f"Error{status}", "Error"))
            responses[name] = {"description": description, "content": self._error_content(status)}
        # query models are spread into parameters: keep their components only if referenced
        text = json.dumps([paths, schemas])
        for name in list(schemas):
            if name in self.query_components and f'"#/components/schemas/{name}"' not in text:
                del schemas[name]
        components: dict[str, Any] = {"schemas": schemas, "responses": responses}
        if self.security_schemes:
            components["securitySchemes"] = self.security_schemes
        return components

    def _error_content(self, status: int) -> dict[str, Any]:
        if self.error_model is not None:
            return {self.error_media: {"schema": self.schemas[self.error_model]}}
        schema = "ValidationProblem" if status == 422 else "Problem"
        return {PROBLEM: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}

    # --- one operation -----------------------------------------------------------------

    def _want_types(self, route: Any) -> None:
        plan = route.plan
        if plan is not None:
            if plan.body_type is not None:
                self.schemas.want(plan.body_type)
            if plan.query_type is not None:
                self.schemas.want(plan.query_type)
        returns = _returns(route)
        if _media_for(returns) == "application/json":
            self.schemas.want(returns)
        for value in (route.options.get("responses") or {}).values():
            if isinstance(value, type) or get_origin(value) is not None:
                self.schemas.want(value)

    def _operation(self, route: Any, operation_id: str) -> dict[str, Any]:
        plan = route.plan
        handler = plan.handler if plan is not None else route.handler
        options = route.options
        summary, description = docstring_parts(handler)
        op: dict[str, Any] = {}
        if options.get("tags"):
            op["tags"] = list(options["tags"])
        if options.get("summary", summary):
            op["summary"] = options.get("summary", summary)
        if options.get("description", description):
            op["description"] = options.get("description", description)
        op["operationId"] = operation_id
        parameters = _path_parameters(route)
        errors: set[int] = set()
        if parameters:
            errors.add(404)
        if plan is not None and plan.query_type is not None:
            parameters += self._query_parameters(plan.query_type)
            errors.update(_QUERY_ERRORS)
        if parameters:
            op["parameters"] = parameters
        if plan is not None and plan.body_type is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": self.schemas[plan.body_type]}}}
            errors.update(_BODY_ERRORS)
        security = options.get("security")
        if security is None:
            security = self._middleware_security(route)
        if security:
            op["security"] = security
            errors.add(401)
        op["responses"] = self._responses(route, errors)
        if options.get("deprecated"):
            op["deprecated"] = True
        return op

    def _query_parameters(self, tp: Any) -> list[dict[str, Any]]:
        schema = self.schemas.model(tp)
        ref = self.schemas[tp].get("$ref")
        if ref:
            self.query_components.add(ref.rsplit("/", 1)[1])
        required = set(schema.get("required", ()))
        params = []
        for name, prop in schema.get("properties", {}).items():
            param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if "description" in prop:
                param["description"] = prop["description"]
            if prop.get("type") == "array":
                param["style"], param["explode"] = "form", True
            params.append(param)
        return params

    def _middleware_security(self, route: Any) -> list[dict[str, list]] | None:
        """A middleware that requires authentication says so with its
        ``Middleware.openapi_security`` (``auth.required`` and ``auth = True`` do)."""
        found: list[dict[str, list]] = []
        for step in route.middleware:
            schemes = step.fn.openapi_security if isinstance(step.fn, Middleware) else None
            if schemes:
                for name, scheme in schemes.items():
                    self.security_schemes.setdefault(name, scheme)
                    if {name: []} not in found:
                        found.append({name: []})
        return found or None

    def _responses(self, route: Any, errors: set[int]) -> dict[str, Any]:
        plan = route.plan
        status = plan.status if plan is not None else 200
        returns = _returns(route)
        success: dict[str, Any] = {"description": _describe_status(status)}
        media = _media_for(returns)
        if media == "application/json":
            success["content"] = {media: {"schema": self.schemas[returns]}}
        elif media is not None:
            success["content"] = {media: {"schema": {"type": "string"}}}
        responses: dict[str, Any] = {str(status): success}
        for code in sorted(errors):
            self.used_errors.add(code)
            responses[str(code)] = {"$ref": f"#/components/responses/{ERRORS[code][0]}"}
        for code, value in (route.options.get("responses") or {}).items():
            if value is None:  # the route never answers with this status
                responses.pop(str(code), None)
            else:
                responses[str(code)] = self._custom_response(int(code), value)
        return dict(sorted(responses.items()))

    def _custom_response(self, code: int, value: Any) -> dict[str, Any]:
        """``responses={409: "Slug taken"}`` (an error in the app's error shape),
        ``{200: Model}`` (a JSON schema) or ``{code: {...response object...}}``."""
        if isinstance(value, dict):
            return value
        if isinstance(value, str):
            if code >= 400:
                return {"description": value, "content": self._error_content(code)}
            return {"description": value}
        return {"description": _describe_status(code), "content": {"application/json": {"schema": self.schemas[value]}}}


def _returns(route: Any) -> Any:
    plan = route.plan
    return plan.returns if plan is not None else return_annotation(route.handler)


def _documented(route: Any, groups: frozenset[str]) -> bool:
    """An API route, unless ``include_in_schema=False``, or a group name (a feature's
    routes, such as ``"auth"``) that the ``include_groups`` option does not list."""
    if route.kind not in API_KINDS or route.method not in _METHOD_ORDER:
        return False
    included = route.options.get("include_in_schema", True)
    return included in groups if isinstance(included, str) else included is not False


def _describe_status(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Response"


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "root"


def _operation_ids(routes: list[Any]) -> dict[int, str]:
    """Stable, unique operationIds: ``operation_id=``, else the handler's name, else
    (route.py's GET/POST..., or a name used twice) ``name_method_path``."""
    wanted: dict[int, str] = {}
    counts: dict[str, int] = {}
    for route in routes:
        explicit = route.options.get("operation_id")
        handler = route.plan.handler if route.plan is not None else route.handler
        name = explicit or getattr(handler, "__name__", "") or ""
        if not explicit and (not name.isidentifier() or name.upper() == name or name.startswith("_")):
            name = f"{route.method.lower()}_{_slug(openapi_path(route.segments))}"
        wanted[id(route)] = name
        counts[name] = counts.get(name, 0) + 1
    ids: dict[int, str] = {}
    taken: set[str] = set()
    for route in routes:
        name = wanted[id(route)]
        if counts[name] > 1 and not route.options.get("operation_id"):
            name = f"{name}_{route.method.lower()}_{_slug(openapi_path(route.segments))}"
        base, n = name, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        ids[id(route)] = name
    return ids


def build_document(routes: list[Any], config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``routes`` (``app.compile().routes``)."""
    return DocumentBuilder(dict(config or {})).build(routes)
