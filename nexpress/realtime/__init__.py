"""Realtime: WebSocket routes, the pub/sub brokers, and (in ``nexpress.http.sse``) the
Server-Sent Events format behind ``res.sse()``.

This package sits beside ``request``/``response`` in the dependency order: it
imports nothing above them, so ``app`` and ``server`` can use it.
"""

from .pubsub import (
    Broker,
    BrokerUnavailable,
    Inbox,
    MemoryBroker,
    RedisBroker,
    Subscription,
    broker_from_url,
)
from .websocket import WebSocket, WebSocketDisconnect

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
