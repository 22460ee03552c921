"""RealWorld's error shape instead of nexpress's problem+json: how an app customises
error bodies with one error handler.

``{"errors": {"<field>": ["<message>"]}}``: typed-body validation errors (422) are
keyed by the field path (``user.email``); other HTTP errors by their ``field=``
(``raise HTTPError(422, "has already been taken", field="email")``) or ``body``.
Database conflicts (a unique key taken by a concurrent request) are 409, never 500.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from nexpress import HTTPError, Request, Response

logger = logging.getLogger("conduit")


def error_body(err: HTTPError) -> dict[str, dict[str, list[str]]]:
    """The RealWorld body for an HTTPError."""
    errors: dict[str, list[str]] = {}
    # a typed body's or query's 422 lists {"path", "message", "in"} per bad field
    listed: list[dict[str, str]] | dict[str, str] | None = err.fields.get("errors")
    if err.status == 422 and isinstance(listed, list):  # nexpress's typed validation
        for item in listed:
            key = item["path"].removeprefix("$").lstrip(".") or "body"
            errors.setdefault(key, []).append(item["message"])
    else:
        key = err.fields.get("field") or "body"
        errors[key] = [err.detail or err.title]
    return {"errors": errors}


def as_http_error(err: Exception) -> HTTPError | None:
    """Database errors a client can cause, as the HTTP errors they are."""
    if isinstance(err, HTTPError):
        return err
    if isinstance(err, IntegrityError):  # lost a race for a unique key
        return HTTPError(409, "A concurrent request changed this resource; try again", field="conflict")
    if isinstance(err, DataError):
        return HTTPError(422, "A value is not acceptable to the database", field="body")
    if isinstance(err, OperationalError) and "locked" in str(err.orig):
        return HTTPError(503, "The database is busy; try again", headers={"retry-after": "1"})
    return None


async def realworld_errors(err: Exception, req: Request, res: Response) -> None:
    """``@app.error``: answer every client error in RealWorld's shape; anything else
    passes on to nexpress's default (a 500 without details in production)."""
    http = as_http_error(err)
    if http is None:
        return
    for name, value in http.headers.items():
        res.set(name, value)
    res.status(http.status).json(error_body(http))
