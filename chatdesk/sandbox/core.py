"""The sandbox's frame: requests, responses, fault injection, routing, in-process transport
and a loopback HTTP server. Each marketplace's wire format lives in its own module
(``wildberries.py``, ``ozon.py``, ``yandex.py``) as a :class:`MarketplaceSim`.

URLs: a sim is mounted under ``/<prefix>`` (``/wb``, ``/ozon``, ``/ym``); an account's
``base_url`` is ``http://host:port/<prefix>`` and every official path follows it. Control
endpoints under ``/_sandbox/`` let tests (and the demo) read the ground truth, inject faults,
make buyers write, and count requests.
"""

from __future__ import annotations

import abc
import asyncio
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from chatdesk.connectors.base import loads_exact

BAD_TOKEN = "bad-token"  # any request carrying it is answered 401
NO_QUESTIONS_TOKEN = "chat-only-token"  # a WB token without the questions category


@dataclass
class SimRequest:
    method: str
    path: str  # official path, prefix stripped
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        return loads_exact(self.body or b"null")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass
class SimResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> SimResponse:
        h = {"content-type": "application/json"}
        h.update(headers or {})
        try:
            body = json.dumps(obj, ensure_ascii=False).encode()
        except UnicodeEncodeError:  # a lone surrogate (a quirk): sent as the JSON escape, as real servers do
            body = json.dumps(obj, ensure_ascii=True).encode()
        return cls(status, body, h)


@dataclass
class Fault:
    """One injected failure, consumed by the next ``times`` matching requests.

    kinds: ``status`` (answer ``status`` with ``headers``/``body``), ``malformed`` (200 with a
    broken JSON body), ``timeout`` (no answer; nothing processed), ``timeout_after`` (processed,
    then no answer: an ambiguous outcome), ``reset`` (connection dropped before processing),
    ``refused`` (connection refused: nothing reached the server), ``duplicate`` (the sim
    repeats data it already served: overlapping pages, replayed events).
    """

    kind: str
    path: str | None = None  # substring of the official path; None: any request of the sim
    prefix: str | None = None  # which sim; None: any
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    times: int = 1

    def matches(self, prefix: str, path: str) -> bool:
        return (self.prefix is None or self.prefix == prefix) and (self.path is None or self.path in path)


class SandboxTimeout(Exception):
    """Raised inside the sandbox to mean: the client sees no answer."""

    def __init__(self, processed: bool) -> None:
        super().__init__("timeout")
        self.processed = processed


class SandboxReset(Exception):
    def __init__(self, reached: bool = True) -> None:
        super().__init__("reset")
        self.reached = reached


class MarketplaceSim(abc.ABC):
    """One simulated marketplace account: state, wire format, ground truth."""

    marketplace: str
    prefix: str

    def __init__(self, rng: random.Random, now: Callable[[], datetime]) -> None:
        self.rng = rng
        self.now = now
        self.requests: Counter[str] = Counter()
        self.duplicate_next = 0  # set by a ``duplicate`` fault; the sim decides what to replay

    @abc.abstractmethod
    def handle(self, req: SimRequest) -> SimResponse:
        """Answer one official-path request (auth already checked by :meth:`check_auth`)."""

    @abc.abstractmethod
    def check_auth(self, req: SimRequest) -> SimResponse | None:
        """None if the request carries valid credentials, else the marketplace's 401."""

    @abc.abstractmethod
    def seed(self, conversations: list[Any]) -> None:
        """Load neutral conversations (``sandbox.seed``) into this sim's state."""

    @abc.abstractmethod
    def buyer_writes(self, chat_external_id: str | None = None, text: str | None = None) -> str:
        """A buyer writes (a new chat when ``chat_external_id`` is None); return the chat id."""

    @abc.abstractmethod
    def seller_portal_writes(self, chat_external_id: str, text: str) -> None:
        """The seller answers from the marketplace's own web portal (not through chatdesk)."""

    def quirk(self, name: str, params: dict[str, Any]) -> list[Fault]:
        """Make the marketplace behave in a way its spec allows but the seeded data never
        shows (issue 11): change state for data quirks, or return the faults that produce
        the quirk. Raise KeyError for a quirk this marketplace does not have. See
        :data:`chatdesk.sandbox.QUIRKS` for the list."""
        raise KeyError(name)

    @abc.abstractmethod
    def truth(self) -> dict[str, Any]:
        """Ground truth in chatdesk's normalized shape: ``{"chats": [...], "messages": {chat: [...]}}``.

        chats: ``external_id, kind, customer, order_id, product_id, status``;
        messages (chronological): ``external_id, author, text, created_at`` (ISO UTC),
        ``attachments`` (names).
        """


class Sandbox:
    """All sims plus faults. Thread-safe: the loopback server and demo ticker share it."""

    def __init__(self, sims: list[MarketplaceSim], *, rng: random.Random | None = None) -> None:
        self.sims = {s.prefix: s for s in sims}
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self.rng = rng or random.Random(7)
        self.log: list[tuple[str, str, str]] = []  # (prefix, method, path)

    # -- control
    def inject(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def request_count(self, prefix: str | None = None) -> int:
        with self.lock:
            return sum(1 for p, _, _ in self.log if prefix is None or p == prefix)

    def reset_counts(self) -> None:
        with self.lock:
            self.log.clear()
            for sim in self.sims.values():
                sim.requests.clear()

    # -- dispatch
    def _take_fault(self, prefix: str, path: str) -> Fault | None:
        for f in self.faults:
            if f.matches(prefix, path):
                f.times -= 1
                if f.times <= 0:
                    self.faults.remove(f)
                return f
        return None

    def handle(
        self, method: str, raw_path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> SimResponse:
        parts = raw_path.lstrip("/").split("/", 1)
        if parts[0] == "_sandbox":
            return self._control(method, "/" + (parts[1] if len(parts) > 1 else ""), query, body)
        if parts[0] == "llm":  # the fake chat-completions endpoint (issue 14); outside the lock: it may be slow
            from chatdesk.sandbox import llm

            status, resp_headers, resp_body = llm.handle(
                method.upper(), "/" + (parts[1] if len(parts) > 1 else ""), headers, body
            )
            return SimResponse(status, resp_body, resp_headers)
        sim = self.sims.get(parts[0])
        if sim is None:
            return SimResponse.json({"error": f"no sandbox marketplace at /{parts[0]}"}, 404)
        path = "/" + (parts[1] if len(parts) > 1 else "")
        req = SimRequest(method.upper(), path, query, {k.lower(): v for k, v in headers.items()}, body)
        with self.lock:
            self.log.append((sim.prefix, req.method, path))
            sim.requests[f"{req.method} {path}"] += 1
            fault = self._take_fault(sim.prefix, path)
            if fault is not None:
                if fault.kind == "status":
                    if fault.body is not None:
                        return SimResponse.json(fault.body, fault.status, fault.headers)
                    return SimResponse(fault.status, b"", fault.headers)
                if fault.kind == "timeout":
                    raise SandboxTimeout(processed=False)
                if fault.kind == "reset":
                    raise SandboxReset(reached=True)
                if fault.kind == "refused":
                    raise SandboxReset(reached=False)
                if fault.kind == "duplicate":
                    sim.duplicate_next += 1
            denied = sim.check_auth(req)
            if denied is not None:
                return denied
            resp = sim.handle(req)
            if fault is not None and fault.kind == "timeout_after":
                raise SandboxTimeout(processed=True)
            if fault is not None and fault.kind == "malformed":
                return SimResponse(200, resp.body[: max(1, len(resp.body) // 2)], {"content-type": "application/json"})
            return resp

    def _control(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> SimResponse:
        """``GET /_sandbox/truth/<prefix>``, ``GET /_sandbox/stats``, ``POST /_sandbox/fault``
        (a Fault as JSON), ``POST /_sandbox/quirk/<prefix>`` ({name, ...params}, see
        ``MarketplaceSim.quirk``), ``POST /_sandbox/buyer/<prefix>`` ({chat?, text?}),
        ``POST /_sandbox/portal/<prefix>`` ({chat, text}), ``POST /_sandbox/reset-counts``."""
        with self.lock:
            seg = path.strip("/").split("/")
            if method == "GET" and seg[0] == "truth" and len(seg) == 2 and seg[1] in self.sims:
                return SimResponse.json(self.sims[seg[1]].truth())
            if method == "GET" and seg[0] == "stats":
                return SimResponse.json(
                    {p: {"total": sum(s.requests.values()), "by_path": dict(s.requests)} for p, s in self.sims.items()}
                )
            payload = json.loads(body or b"{}")
            if method == "POST" and seg[0] == "fault":
                self.inject(Fault(**payload))
                return SimResponse.json({"ok": True})
            if method == "POST" and seg[0] == "quirk" and len(seg) == 2 and seg[1] in self.sims:
                try:
                    faults = self.sims[seg[1]].quirk(str(payload.get("name")), payload)
                except KeyError:
                    return SimResponse.json({"error": f"no quirk {payload.get('name')!r} at /{seg[1]}"}, 404)
                self.inject(*faults)
                return SimResponse.json({"ok": True, "faults": len(faults)})
            if method == "POST" and seg[0] == "reset-counts":
                self.reset_counts()
                return SimResponse.json({"ok": True})
            if method == "POST" and seg[0] == "buyer" and len(seg) == 2 and seg[1] in self.sims:
                chat = self.sims[seg[1]].buyer_writes(payload.get("chat"), payload.get("text"))
                return SimResponse.json({"chat": chat})
            if method == "POST" and seg[0] == "portal" and len(seg) == 2 and seg[1] in self.sims:
                self.sims[seg[1]].seller_portal_writes(payload["chat"], payload["text"])
                return SimResponse.json({"ok": True})
        return SimResponse.json({"error": "unknown control request"}, 404)

    # -- in-process transport
    def transport(self) -> httpx.AsyncBaseTransport:
        sandbox = self

        class _Transport(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                body = await request.aread()
                query = parse_qs(request.url.query.decode(), keep_blank_values=True)
                try:
                    resp = sandbox.handle(request.method, request.url.path, query, dict(request.headers), body)
                except SandboxTimeout:
                    await asyncio.sleep(0)
                    raise httpx.ReadTimeout("sandbox: no answer", request=request) from None
                except SandboxReset as exc:
                    if exc.reached:
                        raise httpx.RemoteProtocolError("sandbox: connection reset", request=request) from None
                    raise httpx.ConnectError("sandbox: connection refused", request=request) from None
                return httpx.Response(resp.status, headers=resp.headers, content=resp.body, request=request)

        return _Transport()

    # -- loopback server
    def serve(self, host: str = "127.0.0.1", port: int = 0, *, stall_seconds: float = 15.0) -> ThreadingHTTPServer:
        """Start a real HTTP server on loopback in a daemon thread; return it (``.server_port``)."""
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _do(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    resp = sandbox.handle(
                        self.command,
                        split.path,
                        parse_qs(split.query, keep_blank_values=True),
                        dict(self.headers),
                        body,
                    )
                except SandboxTimeout:
                    time.sleep(stall_seconds)
                    self.close_connection = True
                    return
                except SandboxReset:
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(resp.body)))
                self.end_headers()
                self.wfile.write(resp.body)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _do

        server = QuietHTTPServer((host, port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="sandbox-http", daemon=True).start()
        return server


log = logging.getLogger("chatdesk.sandbox")

CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)
"""Errors that only mean the client stopped listening (it timed out or cancelled, e.g. against
the fake model's slow answer): nothing the sandbox got wrong."""


class QuietHTTPServer(ThreadingHTTPServer):
    """The sandbox's loopback server. :class:`socketserver.BaseServer` prints the traceback of any
    request that fails to ``sys.stderr``, from the request's thread, whenever that happens -- e.g.
    30 s after a client gave up on a slow answer, in the middle of whatever the process prints
    then (a ``--json`` document, another test's captured output). Here a client that went away is
    a debug log line and any other failure a logged warning; nothing is ever printed."""

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, CLIENT_GONE):
            log.debug("sandbox: the client at %s went away before its answer", client_address)
            return
        log.warning("sandbox: a request from %s failed", client_address, exc_info=True)


def iso(dt: datetime) -> str:
    """ISO 8601 UTC with offset, the form chatdesk's JSON output uses."""
    return dt.astimezone(UTC).isoformat(timespec="seconds")
