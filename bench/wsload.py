#!/usr/bin/env python3
"""WebSocket load generator for bench/run.py: a lean RFC 6455 client on raw asyncio
protocols (pre-masked frames, a minimal parser), so that the Python client costs far
less per message than the servers it measures. Prints one JSON object.

    wsload.py echo   --port P --path /ws/echo --connections 16 --seconds 3
        each connection sends a 32-byte text message and waits for its echo, in a
        loop: round trips per second over all connections.
    wsload.py fanout --port P --path /ws/news --trigger /broadcast --subscribers 1000 --rounds 20
        1,000 sockets wait for "ready"; then, per round, one POST to --trigger and the
        time until every socket has received that round's message (p50, p99, max).
    wsload.py check  --port P
        one echo and a 2-socket broadcast: exit status 1 with the problem if wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import time

HOST = "127.0.0.1"
MASK = b"\x37\xfa\x21\x3d"


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One masked client frame (FIN set) carrying ``payload``."""
    head = bytes([0x80 | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([0x80 | size])
    elif size < 65536:
        head += bytes([0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + size.to_bytes(8, "big")
    masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return head + MASK + masked


def parse_frames(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Complete (unmasked, server) frames at the start of ``buffer``, removed from it."""
    frames = []
    while len(buffer) >= 2:
        opcode = buffer[0] & 0x0F
        size = buffer[1] & 0x7F
        offset = 2
        if size == 126:
            if len(buffer) < 4:
                break
            size, offset = int.from_bytes(buffer[2:4], "big"), 4
        elif size == 127:
            if len(buffer) < 10:
                break
            size, offset = int.from_bytes(buffer[2:10], "big"), 10
        if len(buffer) < offset + size:
            break
        frames.append((opcode, bytes(buffer[offset : offset + size])))
        del buffer[: offset + size]
    return frames


class Client(asyncio.Protocol):
    """One WebSocket connection: handshake, then ``on_message`` for each data frame."""

    def __init__(self, path: str, port: int) -> None:
        self.path = path
        self.port = port
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.open = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.open.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buffer[:end]).split(b"\r\n", 1)[0]
            del self.buffer[: end + 4]
            if b" 101 " not in status + b" ":
                self.open.set_exception(RuntimeError(f"handshake refused: {status.decode(errors='replace')}"))
                return
            self.open.set_result(None)
        for opcode, payload in parse_frames(self.buffer):
            if opcode == 0x8:
                self.finish()
            elif opcode in (0x1, 0x2):
                self.on_message(payload)

    def on_message(self, payload: bytes) -> None:
        raise NotImplementedError

    def send(self, frame: bytes) -> None:
        assert self.transport is not None
        self.transport.write(frame)

    def finish(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(ConnectionError("connection lost during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(b"\x03\xe8", opcode=0x8))
            self.transport.close()


async def open_client(factory, path: str, port: int, timeout: float = 20.0):
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: factory(path, port), HOST, port)
    await asyncio.wait_for(client.open, timeout)
    return client


# --- echo ------------------------------------------------------------------------------


class EchoClient(Client):
    message = b"x" * 32
    frame = client_frame(message)

    def __init__(self, path: str, port: int) -> None:
        super().__init__(path, port)
        self.count = 0
        self.running = True
        self.wrong = 0

    def on_message(self, payload: bytes) -> None:
        if payload != self.message:
            self.wrong += 1
        self.count += 1
        if self.running:
            self.send(self.frame)


async def echo(port: int, path: str, connections: int, seconds: float) -> dict:
    clients = [await open_client(EchoClient, path, port) for _ in range(connections)]
    for client in clients:
        client.send(client.frame)
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    counted = sum(c.count for c in clients)
    elapsed = time.perf_counter() - started
    for client in clients:
        client.running = False
    await asyncio.sleep(0.05)
    for client in clients:
        client.close()
    return {
        "round_trips": counted,
        "seconds": elapsed,
        "rps": counted / elapsed,
        "connections": connections,
        "wrong": sum(c.wrong for c in clients),
    }


# --- fan-out ---------------------------------------------------------------------------


class Subscriber(Client):
    def __init__(self, path: str, port: int) -> None:
        super().__init__(path, port)
        self.messages: list[bytes] = []
        self.on_each = None

    def on_message(self, payload: bytes) -> None:
        self.messages.append(payload)
        if self.on_each is not None:
            self.on_each(payload)


async def post(port: int, path: str, body: bytes) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
        )
        await writer.drain()
        status = await reader.readline()
        await reader.read()
        return int(status.split()[1])
    finally:
        writer.close()


async def fanout(port: int, path: str, trigger: str, subscribers: int, rounds: int) -> dict:
    clients: list[Subscriber] = []
    ready = asyncio.Semaphore(100)  # at most 100 handshakes in flight (the listen backlog)

    async def join() -> None:
        async with ready:
            client = await open_client(Subscriber, path, port)
            while not client.messages:  # the handler's "ready": it is subscribed
                await asyncio.sleep(0.01)
            clients.append(client)

    await asyncio.wait_for(asyncio.gather(*(join() for _ in range(subscribers))), 120)
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    wrong = 0
    for rnd in range(rounds):
        body = f"round {rnd}".encode()
        done = loop.create_future()
        remaining = [subscribers]

        def got(payload: bytes, body: bytes = body, done: asyncio.Future = done, remaining: list = remaining) -> None:
            nonlocal wrong
            if payload != body:
                wrong += 1
            remaining[0] -= 1
            if remaining[0] == 0 and not done.done():
                done.set_result(time.perf_counter())

        for client in clients:
            client.on_each = got
        started = time.perf_counter()
        status = await post(port, trigger, body)
        if status != 200:
            raise RuntimeError(f"POST {trigger}: status {status}")
        finished = await asyncio.wait_for(done, 30)
        latencies.append((finished - started) * 1000)
        await asyncio.sleep(0.05)  # let the server settle between rounds
    for client in clients:
        client.close()
    latencies.sort()
    return {
        "subscribers": subscribers,
        "rounds": rounds,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
        "max_ms": latencies[-1],
        "latencies_ms": [round(x, 3) for x in latencies],
        "wrong": wrong,
    }


async def check(port: int) -> list[str]:
    problems = []
    result = await echo(port, "/ws/echo", 1, 0.2)
    if not result["round_trips"] or result["wrong"]:
        problems.append(f"/ws/echo: {result}")
    result = await fanout(port, "/ws/news", "/broadcast", 2, 2)
    if result["wrong"]:
        problems.append(f"/ws/news: {result['wrong']} wrong message(s)")
    return problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["echo", "fanout", "check"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default=None)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--trigger", default="/broadcast")
    p.add_argument("--subscribers", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    try:
        if args.mode == "echo":
            result = asyncio.run(echo(args.port, args.path or "/ws/echo", args.connections, args.seconds))
        elif args.mode == "fanout":
            result = asyncio.run(fanout(args.port, args.path or "/ws/news", args.trigger, args.subscribers, args.rounds))
        else:
            problems = asyncio.run(asyncio.wait_for(check(args.port), 30))
            print(json.dumps({"problems": problems}))
            return 1 if problems else 0
    except (OSError, RuntimeError, TimeoutError) as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
