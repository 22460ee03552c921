"""Server-Sent Events: the wire format (pure functions) and the event stream that
``res.sse()`` sends.

The format (HTML Living Standard, "Server-sent events"): an event is a block of
``field: value`` lines ended by a blank line. A value never contains a line break:
multi-line data becomes several ``data:`` lines (CR, LF and CRLF all count as line
breaks, as they do for the browser's parser), and a line break or NUL in ``event``
or ``id`` is refused, so no value can ever inject a field or an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec

logger = logging.getLogger("nexpress")

_encode_json = msgspec.json.Encoder().encode
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FIELDS = frozenset(("event", "data", "id", "retry", "comment"))

OPEN = b": open\n\n"  # sent first, so the client sees the headers before the first event
PING = b": ping\n\n"  # the heartbeat: a comment, ignored by EventSource


class EventError(ValueError):
    """An event that cannot be encoded without changing its meaning."""


def _lines(text: str) -> list[str]:
    return _LINE_BREAK.split(text)


def _single_line(field: str, value: Any) -> str:
    text = str(value)
    if "\r" in text or "\n" in text or "\x00" in text:
        raise EventError(
            f"the SSE {field!r} field must not contain CR, LF or NUL: {text[:60]!r}"
        )
    return text


def data_text(data: Any) -> str:
    """What an event's ``data`` carries: str as is, bytes as UTF-8, anything else as JSON."""
    if isinstance(data, str):
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            return bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise EventError("SSE data must be UTF-8 text; encode binary data (base64)") from None
    try:
        return _encode_json(data).decode("utf-8")
    except TypeError as exc:
        raise EventError(f"SSE data {type(data).__name__} is not JSON-encodable: {exc}") from None


def encode_comment(text: str) -> bytes:
    """``: text`` lines (one per line of ``text``), ignored by EventSource."""
    return "".join(f": {line}\n" for line in _lines(text)).encode("utf-8") + b"\n"


def encode_event(event: Any) -> bytes:
    """One event as bytes. ``event`` is a dict with ``event``, ``data``, ``id``,
    ``retry`` (ms) and/or ``comment``, or a plain value sent as ``data``."""
    if not isinstance(event, dict):
        event = {"data": event}
    unknown = set(event) - _FIELDS
    if unknown:
        raise EventError(
            f"unknown SSE field(s) {sorted(unknown)}; use event, data, id, retry, comment"
            " (to send a dict as JSON data, yield {'data': the_dict})"
        )
    out: list[str] = []
    comment = event.get("comment")
    if comment is not None:
        out.extend(f": {line}\n" for line in _lines(str(comment)))
    name = event.get("event")
    if name is not None:
        out.append(f"event: {_single_line('event', name)}\n")
    ident = event.get("id")
    if ident is not None:
        out.append(f"id: {_single_line('id', ident)}\n")
    retry = event.get("retry")
    if retry is not None:
        if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
            raise EventError(f"the SSE 'retry' field must be a non-negative int (ms), not {retry!r}")
        out.append(f"retry: {retry}\n")
    if "data" in event and event["data"] is not None:
        out.extend(f"data: {line}\n" for line in _lines(data_text(event["data"])))
    if not out:
        raise EventError("an SSE event needs at least one of event, data, id, retry, comment")
    out.append("\n")
    return "".join(out).encode("utf-8")


# --- the stream -----------------------------------------------------------------------

_END = object()


async def _pump(source: AsyncIterable[Any], queue: asyncio.Queue) -> None:
    """Iterate the user's events in one task of their own (so their ``async with``
    blocks stay in one task), encoding each; the source is closed however this ends."""
    try:
        async for item in source:
            await queue.put(encode_event(item))
    except Exception:
        logger.exception("the event source of an SSE response failed; the stream ends here")
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()
    await queue.put(_END)


async def _stop(task: asyncio.Future | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def event_stream(
    source: AsyncIterable[Any],
    heartbeat: float | None,
    wait_for_disconnect: Callable[[], Awaitable[None]] | None,
) -> AsyncIterator[bytes]:
    """The body of an SSE response: ``OPEN``, then each event, a ``PING`` comment after
    ``heartbeat`` seconds without one, until ``source`` ends or the client leaves
    (``wait_for_disconnect`` returns); then ``source`` is closed (``aclose``).
    Nothing runs until the body is iterated (a HEAD request never starts ``source``)."""
    if not hasattr(source, "__aiter__"):
        raise TypeError(
            f"res.sse() takes an async iterable (an 'async def' generator), not {type(source).__name__}"
        )
    if heartbeat is not None and heartbeat < 0:
        raise ValueError(f"heartbeat must be a number of seconds >= 0 (0 or None: none), not {heartbeat!r}")
    return _events(source, heartbeat or None, wait_for_disconnect)


async def _events(
    source: AsyncIterable[Any],
    timeout: float | None,
    wait_for_disconnect: Callable[[], Awaitable[None]] | None,
) -> AsyncIterator[bytes]:
    queue: asyncio.Queue = asyncio.Queue(maxsize=1)
    pump = asyncio.ensure_future(_pump(source, queue))
    watcher = asyncio.ensure_future(wait_for_disconnect()) if wait_for_disconnect else None
    try:
        yield OPEN
        while True:
            getter = asyncio.ensure_future(queue.get())
            waiting = {getter} if watcher is None else {getter, watcher}
            done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                await _stop(getter)
                if watcher is not None and watcher in done:
                    return  # the client left
                yield PING
                continue
            chunk = getter.result()
            if chunk is _END:
                return
            yield chunk
    finally:
        await _stop(pump)
        await _stop(watcher)


__all__ = ["PING", "EventError", "encode_comment", "encode_event", "event_stream"]
