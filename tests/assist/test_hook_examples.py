"""The README's hook examples (issue 14 §4) run as printed: the Telegram script against a
stand-in Bot API on loopback (``TG_API``), the e-mail script against a stand-in SMTP server
(``SMTP_HOST``/``SMTP_PORT``), each fired by :class:`chatdesk.hooks.HookRunner` with the event in
its environment and as JSON on stdin, hostile buyer text included."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import socketserver
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chatdesk import hooks
from chatdesk.store.events import ChatEvent

README = Path(__file__).resolve().parents[2] / "README.md"
HOSTILE = 'Где заказ?! $(touch /tmp/chatdesk-pwned) `id` "; rm -rf ~ \x1b[31m'


def example(marker: str) -> str:
    """The fenced code block of the README whose second line is ``# ~/bin/<marker>: …``."""
    blocks = re.findall(r"```(?:sh|python)\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    found = [b for b in blocks if b.splitlines()[1].startswith(f"# ~/bin/{marker}:")]
    assert len(found) == 1, f"README has no single {marker} example"
    return found[0]


def install(tmp_path: Path, marker: str) -> Path:
    script = tmp_path / marker
    script.write_text(example(marker), encoding="utf-8")
    script.chmod(0o755)
    return script


def event(name: str, customer: str | None = "Борис", order_id: str | None = None) -> hooks.Event:
    """The event as the runner builds it from the store (the same payload code)."""
    stub = ChatEvent(
        key=f"{name}:42",
        event=name,
        chat_id=42,
        account="ozon-main",
        marketplace="ozon",
        customer=customer,
        order_id=order_id,
        product_id="500",
        at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
        message_id=7,
        text=HOSTILE,
    )
    return hooks.Event(name, hooks._payload(stub, name, "waiting 2 h" if name == "sla_late" else None))


@pytest.fixture
def telegram() -> Iterator[tuple[str, list[tuple[str, dict[str, list[str]]]]]]:
    got: list[tuple[str, dict[str, list[str]]]] = []

    class Bot(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
            got.append((self.path, urllib.parse.parse_qs(body)))
            status = 401 if "/botbad/" in self.path else 200
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}' if status == 200 else b'{"ok": false}')

        def log_message(self, *_args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Bot)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}", got
    srv.shutdown()


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's Telegram example uses curl")
def test_telegram_example(tmp_path: Path, telegram, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    api, got = telegram
    script = install(tmp_path, "tg-notify")
    monkeypatch.setenv("TG_API", api)
    monkeypatch.setenv("TG_TOKEN", "123:abc")
    monkeypatch.setenv("TG_CHAT", "-100500")
    runner = hooks.HookRunner(None, hooks.parse_settings({"buyer_message": [str(script)]}))  # type: ignore[arg-type]
    runner.fire([event("buyer_message")])
    assert list(runner.errors) == []
    assert len(got) == 1
    path, form = got[0]
    assert path == "/bot123:abc/sendMessage"
    assert form["chat_id"] == ["-100500"]
    # the buyer's text arrives as text, nothing of it ran; the escape sequence was removed
    assert form["text"] == ["ozon ozon-main · Борис: " + HOSTILE.split(" \x1b")[0]]
    assert not Path("/tmp/chatdesk-pwned").exists()
    # a refused call (a wrong token) fails the hook, and chatdesk says so instead of crashing
    monkeypatch.setenv("TG_TOKEN", "bad")
    runner.fire([event("buyer_message")])
    assert len(runner.errors) == 1 and "exit 22" in runner.errors[0]


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's Telegram example uses curl")
def test_telegram_example_names_an_ozon_chat_without_a_buyer_name(tmp_path: Path, telegram, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """fuanswer item 4: Ozon gives no buyer name; the example printed "ozon ozon-main · : text"."""
    api, got = telegram
    script = install(tmp_path, "tg-notify")
    monkeypatch.setenv("TG_API", api)
    monkeypatch.setenv("TG_TOKEN", "123:abc")
    monkeypatch.setenv("TG_CHAT", "-100500")
    runner = hooks.HookRunner(None, hooks.parse_settings({"buyer_message": [str(script)]}))  # type: ignore[arg-type]
    runner.fire([event("buyer_message", customer=None, order_id="0123-4567-1")])
    runner.fire([event("buyer_message", customer=None)])
    assert list(runner.errors) == []
    texts = [form["text"][0] for _path, form in got]
    assert texts[0].startswith("ozon ozon-main · order 0123-4567-1: Где заказ?!")
    assert texts[1].startswith("ozon ozon-main · product 500: Где заказ?!")
    assert all("· :" not in t for t in texts)


def test_title_env_is_what_the_list_shows() -> None:
    assert event("buyer_message").env["CHATDESK_TITLE"] == "Борис"
    env = event("buyer_message", customer=None, order_id="0123-4567-1").env
    assert env["CHATDESK_TITLE"] == "order 0123-4567-1" and "CHATDESK_CUSTOMER" not in env
    bare = ChatEvent("k", "sync_error", 9, "oz", "ozon", None, None, None, datetime(2026, 11, 30, tzinfo=UTC))
    assert hooks.Event("sync_error", hooks._payload(bare, "sync_error")).env["CHATDESK_TITLE"] == "chat 9"
    legacy = hooks.legacy_line(event("buyer_message", customer=None, order_id="77"))
    assert legacy.startswith("new message — order 77 · OZ ozon-main: ")


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: greeting, EHLO/HELO, MAIL, RCPT, DATA, QUIT."""

    def handle(self) -> None:
        inbox: list[tuple[str, list[str], bytes]] = self.server.inbox  # type: ignore[attr-defined]
        sender, rcpts = "", []
        self.wfile.write(b"220 localhost stand-in\r\n")
        while line := self.rfile.readline():
            cmd = line.decode("ascii", "replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250 localhost\r\n")
            elif verb == "MAIL":
                sender = cmd.split(":", 1)[1].strip()
                self.wfile.write(b"250 ok\r\n")
            elif verb == "RCPT":
                rcpts.append(cmd.split(":", 1)[1].strip())
                self.wfile.write(b"250 ok\r\n")
            elif verb == "DATA":
                self.wfile.write(b"354 go ahead\r\n")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                inbox.append((sender, rcpts, data))
                self.wfile.write(b"250 queued\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def test_email_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    srv.inbox = []  # type: ignore[attr-defined]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        script = install(tmp_path, "mail-me")
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(srv.server_address[1]))
        monkeypatch.setenv("MAIL_TO", "seller@example.com")
        runner = hooks.HookRunner(None, hooks.parse_settings({"sla_late": [str(script)]}))  # type: ignore[arg-type]
        runner.fire([event("sla_late")])
        assert list(runner.errors) == []
        (sender, rcpts, data), *rest = srv.inbox  # type: ignore[attr-defined]
        assert rest == [] and sender == "<seller@example.com>" and rcpts == ["<seller@example.com>"]
        mail = email.message_from_bytes(data, policy=email.policy.default)
        assert mail["Subject"] == "chatdesk: buyer waiting, ozon ozon-main, chat 42"
        body = mail.get_content()  # type: ignore[attr-defined]
        clean = HOSTILE.split(" \x1b")[0]
        assert body.replace("\r\n", "\n") == f"Борис: waiting 2 h\n\n{clean}\n"  # no escape sequence
        # no mail server there: the hook fails and chatdesk logs it, never raises
        monkeypatch.setenv("SMTP_PORT", "1")
        runner.fire([event("sla_late")])
        assert len(runner.errors) == 1 and "ConnectionRefusedError" in runner.errors[0]
    finally:
        srv.shutdown()
        srv.server_close()
