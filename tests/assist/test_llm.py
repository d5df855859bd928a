"""Model-backed suggestions against the sandbox's fake chat-completions endpoint (in-process
and over loopback), a draft command with JSON on stdin, faults in plain words, cancel."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from chatdesk.assist import llm
from chatdesk.assist import suggest as assist_suggest
from chatdesk.config import Config
from chatdesk.sandbox import build_sandbox
from chatdesk.sandbox import llm as fake
from chatdesk.store.db import Database
from tests.assist.test_suggest import build


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    sb = build_sandbox(chats=1)
    srv = sb.serve("127.0.0.1", 0)
    yield f"http://127.0.0.1:{srv.server_port}/llm/v1"
    srv.shutdown()


def _settings(base: str, model: str = "chatdesk-fake", timeout: float = 10) -> llm.AssistSettings:
    return llm.parse_settings({"base_url": base, "model": model, "timeout": timeout})


def test_model_draft_lands_as_a_checked_suggestion_first(db: Database, server: str) -> None:
    ids = build(db)
    result = assist_suggest.suggest(db, ids["now"], config=Config())
    s = assist_suggest.model_suggestion(db, ids["now"], result, lambda ctx: llm.ModelCall(_settings(server), ctx))
    # the fake answers "Здравствуйте, <customer>! <best past answer>"
    assert s.text == "Здравствуйте, Мария! Мария, добрый день! Платье маломерит, при 44 берите 46."
    assert s.source == "model" and "chatdesk-fake at 127.0.0.1" in s.reason
    merged = assist_suggest.with_model(result, s)
    assert merged.items[0] is s and merged.for_message_id == result.for_message_id
    # `suggest --limit 2` with a model: 2 suggestions in all, the draft first (fresh eyes round 2)
    assert len(result.items) >= 2
    limited = assist_suggest.with_model(result, s, 2)
    assert [i.text for i in limited.items] == [s.text, result.items[0].text]


def test_context_carries_messages_product_past_answers_templates_and_rules(db: Database) -> None:
    ids = build(db)
    result = assist_suggest.suggest(db, ids["now"], config=Config())
    chat = assist_suggest.views.get_chat(db, ids["now"])
    assert chat is not None
    ctx = assist_suggest.model_context(db, chat, result, [])
    assert ctx["marketplace"] == "wildberries" and ctx["chat"]["customer"] == "Мария"
    assert ctx["chat"]["product"] == "Платье"
    assert ctx["messages"][-1]["text"] == "Здравствуйте! Какой размер брать на рост 168?"
    assert ctx["past_answers"][0]["question"].startswith("Подскажите размер")
    assert any("ссылки" in r for r in ctx["rules"])


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("chatdesk-fake-500", r"failed \(HTTP 500\)"),
        ("chatdesk-fake-garbage", "not a chat completion"),
        ("chatdesk-fake-empty", "without a reply text"),
        ("no-such-model", "does not know model"),
    ],
)
def test_faults_are_plain_words(server: str, model: str, words: str) -> None:
    with pytest.raises(llm.ModelError, match=words) as err:
        llm.ModelCall(_settings(server, model), {}).run()
    assert "Error" not in str(err.value)


def test_slow_model_is_bounded_and_cancellable(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fake, "SLOW_SECONDS", 5.0)
    started = time.monotonic()
    with pytest.raises(llm.ModelError, match="did not answer within 1 s"):
        llm.ModelCall(_settings(server, "chatdesk-fake-slow", timeout=1), {}).run()
    assert time.monotonic() - started < 4
    call = llm.ModelCall(_settings(server, "chatdesk-fake-slow", timeout=20), {})
    threading.Timer(0.5, call.cancel).start()
    started = time.monotonic()
    with pytest.raises(llm.Cancelled):
        call.run()
    assert time.monotonic() - started < 4


def test_unreachable_endpoint_says_so() -> None:
    with pytest.raises(llm.ModelError, match=r"cannot reach the model at 127\.0\.0\.1"):
        llm.ModelCall(_settings("http://127.0.0.1:9/v1"), {}).run()


def test_key_is_sent_as_bearer_to_the_configured_host_only() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "llm.example.com":
            return httpx.Response(302, headers={"location": "https://evil.example.net/v1/chat/completions"})
        return httpx.Response(200, json={"choices": [{"message": {"content": "x"}}]})

    s = llm.parse_settings({"base_url": "https://llm.example.com/v1", "model": "m"})
    with pytest.raises(llm.ModelError):
        llm.ModelCall(s, {}, key="sk-secret-123", transport=httpx.MockTransport(handler)).run()
    assert [r.url.host for r in seen] == ["llm.example.com"]  # the redirect is not followed
    assert seen[0].headers["authorization"] == "Bearer sk-secret-123"


def test_draft_command_gets_json_on_stdin(tmp_path: Path) -> None:
    script = tmp_path / "draft.py"
    script.write_text(
        "import json, sys\nctx = json.load(sys.stdin)\nprint('Здравствуйте, ' + ctx['chat']['customer'] + '!')\n"
    )
    s = llm.parse_settings({"command": [sys.executable, str(script)]})
    text, who = llm.ModelCall(s, {"chat": {"customer": "Оля"}}).run()
    assert text == "Здравствуйте, Оля!" and who == "your command " + Path(sys.executable).name
    failing = tmp_path / "fail.py"
    failing.write_text("import sys; sys.stderr.write('no quota\\n'); sys.exit(3)")
    with pytest.raises(llm.ModelError, match=r"failed \(exit 3\): no quota"):
        llm.ModelCall(llm.parse_settings({"command": [sys.executable, str(failing)]}), {}).run()


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"base_url": "http://llm.example.com/v1", "model": "m"}, "must use https"),
        ({"base_url": "ftp://x/v1", "model": "m"}, "https:// URL"),
        ({"base_url": "https://user:pw@x/v1", "model": "m"}, "user or password"),
        ({"base_url": "https://x/v1"}, "must name the model"),
        ({"command": "draft.sh"}, "list of strings"),
        ({"timeout": 1e9}, "timeout"),
        ({"temperature": 2}, "unknown assist setting"),
    ],
)
def test_settings_are_checked(raw: dict, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=words):
        llm.parse_settings(raw)


def test_loopback_http_is_allowed_and_not_remote() -> None:
    s = llm.parse_settings({"base_url": "http://localhost:11434/v1", "model": "qwen"})
    assert s.enabled and not s.remote
    assert llm.parse_settings({"base_url": "https://api.example.com/v1", "model": "m"}).remote


def test_cli_suggest_with_model_and_its_failure(store_url: str, tmp_path: Path, server: str) -> None:
    from typer.testing import CliRunner

    from chatdesk.cli import app

    url = store_url
    db = Database(url)
    ids = build(db)
    db.close()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[assist]\nbase_url = "{server}"\nmodel = "chatdesk-fake"\n')
    env = {"CHATDESK_CONFIG": str(cfg)}
    out = CliRunner().invoke(app, ["--db", url, "suggest", str(ids["now"]), "--json"], env=env)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["suggestions"][0]["source"] == "model"
    cfg.write_text(f'[assist]\nbase_url = "{server}"\nmodel = "chatdesk-fake-500"\n')
    out = CliRunner().invoke(app, ["--db", url, "suggest", str(ids["now"]), "--json"], env=env)
    data = json.loads(out.stdout)
    assert out.exit_code == 0 and data["suggestions"][0]["source"] == "past"
    assert data["notices"] == ["model: the model at 127.0.0.1 failed (HTTP 500)"]
    out = CliRunner().invoke(app, ["--db", url, "suggest", str(ids["now"]), "--json", "--offline"], env=env)
    assert json.loads(out.stdout)["notices"] == []


def test_a_trickling_model_is_cut_at_the_total_timeout() -> None:
    """httpx's read timeout restarts with every chunk; a server that sends a byte every 0.3 s
    would keep the request alive for ever. The timeout the seller set is for the whole answer."""
    import http.server
    import socketserver

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "100000")
            self.end_headers()
            try:
                for _ in range(60):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.3)
            except OSError:
                return

        def log_message(self, *args: object) -> None:
            return

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    srv = Server(("127.0.0.1", 0), Trickle)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        with pytest.raises(llm.ModelError, match="did not answer within 1 s"):
            llm.ModelCall(_settings(f"http://127.0.0.1:{srv.server_address[1]}/v1", timeout=1), {}).run()
        assert time.monotonic() - started < 3
    finally:
        srv.shutdown()


def test_a_model_draft_answering_a_question_is_not_offered_for_a_thanks(db: Database, server: str) -> None:
    """Seen on the demo: "Спасибо за ответ!" got the model's "Спасибо за вопрос, уточним…"."""
    from chatdesk.model import Page
    from chatdesk.store import accounts, ingest
    from tests.assist.test_suggest import _m

    ids = build(db)
    acc = accounts.get_account(db, "wb")
    assert acc is not None
    ingest.apply_page(db, acc.id, "chats", Page(messages=(_m("now", "th", "buyer", "Спасибо за ответ!", 900),)))
    result = assist_suggest.suggest(db, ids["now"], config=Config())
    assert result.topic == "thanks"
    with pytest.raises(llm.ModelError, match="the buyer only says thanks"):
        assist_suggest.model_suggestion(db, ids["now"], result, lambda ctx: llm.ModelCall(_settings(server), ctx))


def test_the_fake_model_does_not_greet_twice() -> None:
    """Seen in the demo's picker: "Здравствуйте! Здравствуйте! Нет, для A54 …"."""
    ctx = {"chat": {"customer": "Борис"}, "past_answers": [{"answer": "Здравствуйте! Нет, для A54 есть другая."}]}
    assert fake.draft(ctx) == "Здравствуйте! Нет, для A54 есть другая."
    assert fake.draft({"chat": {"customer": "Борис"}, "past_answers": [{"answer": "Берите L."}]}) == (
        "Здравствуйте, Борис! Берите L."
    )
