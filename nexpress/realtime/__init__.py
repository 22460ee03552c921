"""Realtime: the pub/sub brokers, and the public names of the protocol objects it builds on:
the ``WebSocket`` (``nexpress.http.websocket``; the server drives it in
``nexpress.server.websocket``) and, in ``nexpress.http.sse``, the Server-Sent Events format
behind ``res.sse()``.
"""

from ..http.websocket import WebSocket, WebSocketDisconnect
from .pubsub import (
    Broker,
    BrokerUnavailable,
    Inbox,
    MemoryBroker,
    RedisBroker,
    Subscription,
    broker_from_url,
)

__all__ = [
    "Broker",
    "BrokerUnavailable",
    "Inbox",
    "MemoryBroker",
    "RedisBroker",
    "Subscription",
    "WebSocket",
    "WebSocketDisconnect",
    "broker_from_url",
]
