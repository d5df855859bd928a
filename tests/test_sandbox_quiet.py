"""The sandbox's loopback server never prints: a client that gave up on a slow answer (the fake
model's ``chatdesk-fake-slow``) used to get a BrokenPipe traceback printed to ``sys.stderr`` from
the server thread seconds later, in the middle of whatever the process printed then; with
click >= 8.2 a CliRunner's ``output`` holds stderr too, so ``report --json`` in the same test
process looked like JSON followed by a traceback (the flaky ``test_json_and_csv_and_cli``)."""

from __future__ import annotations

import json
import logging
import socket
import time

import pytest

from chatdesk.sandbox import build_sandbox
from chatdesk.sandbox import llm as fake
from chatdesk.sandbox.core import QuietHTTPServer


def _give_up_on_a_slow_answer(port: int) -> None:
    """Ask the fake model for a slow answer and hang up at once (RST), like a timed-out client."""
    body = json.dumps({"model": "chatdesk-fake-slow", "messages": [{"role": "user", "content": "?"}]}).encode()
    head = (
        f"POST /llm/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head + body)
        time.sleep(0.1)  # the server has read the request and is "thinking"
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def test_a_client_that_gave_up_prints_nothing(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake, "SLOW_SECONDS", 0.4)
    server = build_sandbox(seed=1, chats=1).serve("127.0.0.1", 0)
    try:
        assert isinstance(server, QuietHTTPServer)
        with caplog.at_level(logging.DEBUG, logger="chatdesk.sandbox"):
            _give_up_on_a_slow_answer(server.server_port)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not caplog.records:
                time.sleep(0.05)  # the handler wakes, writes to the closed socket, fails
        out, err = capfd.readouterr()
        assert (out, err) == ("", "")
        assert any("went away" in r.getMessage() for r in caplog.records)
    finally:
        server.shutdown()
        server.server_close()
