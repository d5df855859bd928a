"""Event hooks: argv without a shell, env + JSON stdin, bounded time, failures never raised,
each event once (not for first-sync history, not again after a restart or in another process)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from chatdesk import hooks
from chatdesk.model import ChatInfo, MessageInfo, Page
from chatdesk.store import accounts, ingest, outbox
from chatdesk.store.db import Database
from chatdesk.store.schema import Account, Message, SyncState

SCRIPT = """
import json, os, sys
data = sys.stdin.read()
env = {k: v for k, v in os.environ.items() if k.startswith("CHATDESK_")}
with open(sys.argv[1], "a", encoding="utf-8") as f:
    f.write(json.dumps({"argv": sys.argv[2:], "env": env, "stdin": json.loads(data)}, ensure_ascii=False) + "\\n")
"""


@pytest.fixture
def recorder(tmp_path: Path) -> tuple[list[str], Path]:
    script = tmp_path / "hook.py"
    script.write_text(SCRIPT)
    out = tmp_path / "fired.jsonl"
    return [sys.executable, str(script), str(out)], out


def fired(out: Path) -> list[dict]:  # type: ignore[type-arg]
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines()]


def _acc(db: Database, name: str = "oz", marketplace: str = "ozon", added: datetime | None = None):  # type: ignore[no-untyped-def]
    acc = accounts.add_account(db, name, marketplace)
    if added is not None:
        with db.write() as s:
            s.execute(update(Account).where(Account.id == acc.id).values(created_at=added))
    return acc


def _page(chat: str, ext: str, author: str, text: str, at: datetime, **chat_kw) -> Page:  # type: ignore[no-untyped-def]
    return Page(chats=(ChatInfo(chat, **chat_kw),), messages=(MessageInfo(chat, ext, author, text, at),))  # type: ignore[arg-type]


T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def runner(db: Database, argv: list[str], events: tuple[str, ...] = hooks.EVENTS, now: datetime = T0, **kw):  # type: ignore[no-untyped-def]
    settings = hooks.parse_settings({e: [*argv, e] for e in events} | kw)
    return hooks.HookRunner(db, settings, sla_warn_minutes=30, sla_late_minutes=120, clock=lambda: now)


def test_buyer_message_fires_once_with_env_and_json_not_for_history(db: Database, recorder) -> None:  # type: ignore[no-untyped-def]
    argv, out = recorder
    acc = _acc(db, added=T0 - timedelta(days=1))
    ingest.apply_page(db, acc.id, "chats", _page("c1", "1", "buyer", "old question", T0 - timedelta(days=3)))
    r = runner(db, argv)
    r.fire(r.scan())  # first scan: baseline, the history fires nothing
    assert fired(out) == []
    ingest.apply_page(
        db, acc.id, "chats", _page("c1", "2", "buyer", "Где заказ?\x1b[31m\nсрочно", T0, customer="Иван", order_id="77")
    )
    r.fire(r.scan())
    r.fire(r.scan())  # nothing new
    again = runner(db, argv)  # a restart, or a second process on the same store
    again.fire(again.scan())
    (event,) = fired(out)
    assert event["argv"] == ["buyer_message"]
    env = event["env"]
    assert env["CHATDESK_EVENT"] == "buyer_message" and env["CHATDESK_ACCOUNT"] == "oz"
    assert env["CHATDESK_MARKETPLACE"] == "ozon" and env["CHATDESK_CUSTOMER"] == "Иван"
    assert env["CHATDESK_TEXT"] == "Где заказ? срочно"  # sanitized, one line
    assert env["CHATDESK_ORDER"] == "77" and "CHATDESK_KEYRING_PASSPHRASE" not in env
    assert event["stdin"]["text"] == "Где заказ? срочно" and event["stdin"]["chat_id"] == int(env["CHATDESK_CHAT_ID"])


def test_a_new_accounts_first_sync_is_not_news(db: Database, recorder) -> None:  # type: ignore[no-untyped-def]
    argv, out = recorder
    _acc(db, "wb", "wildberries", added=T0 - timedelta(days=10))
    r = runner(db, argv)
    r.fire(r.scan())  # baseline
    new = _acc(db, "oz2", added=T0)  # added now: its history was written before
    ingest.apply_page(db, new.id, "chats", _page("h", "1", "buyer", "written last week", T0 - timedelta(days=7)))
    ingest.apply_page(db, new.id, "chats", _page("h", "2", "buyer", "written just now", T0 + timedelta(minutes=1)))
    r.fire(r.scan())
    assert [e["stdin"]["text"] for e in fired(out)] == ["written just now"]


def test_sla_and_window_events_as_time_passes(db: Database, recorder) -> None:  # type: ignore[no-untyped-def]
    argv, out = recorder
    acc = _acc(db, added=T0 - timedelta(days=5))
    runner(db, argv).scan()  # baseline before anything waits
    ingest.apply_page(db, acc.id, "chats", _page("c", "1", "buyer", "Ответьте", T0))
    for minutes in (10, 40, 50, 130, 43 * 60, 43 * 60 + 5):
        r = runner(db, argv, now=T0 + timedelta(minutes=minutes))
        r.fire(r.scan())
    names = [e["env"]["CHATDESK_EVENT"] for e in fired(out)]
    assert names == ["buyer_message", "sla_warn", "sla_late", "window_closing"]
    closing = fired(out)[-1]["env"]["CHATDESK_DETAIL"]
    assert closing == "window closes in 5 h"


def test_send_failed_followup_sent_and_sync_error(db: Database, recorder) -> None:  # type: ignore[no-untyped-def]
    argv, out = recorder
    acc = _acc(db, added=T0 - timedelta(days=5))
    ingest.apply_page(db, acc.id, "chats", _page("c", "1", "buyer", "?", T0 - timedelta(days=2)))
    runner(db, argv).scan()
    mid = outbox.enqueue(db, 1, "Ответ")
    with db.write() as s:
        s.execute(update(Message).where(Message.id == mid).values(state="failed", error="chat is closed"))
        s.add(
            SyncState(account_id=acc.id, stream="chats", last_error="cannot reach api", failures=1, last_attempt_at=T0)
        )
    r = runner(db, argv, now=datetime.now(UTC))
    r.fire(r.scan())
    r.fire(r.scan())
    got = {e["env"]["CHATDESK_EVENT"]: e["env"] for e in fired(out)}
    assert set(got) == {"send_failed", "sync_error"}
    assert got["send_failed"]["CHATDESK_DETAIL"] == "chat is closed"
    assert got["sync_error"]["CHATDESK_DETAIL"] == "chats: cannot reach api"


def test_a_failing_or_hanging_hook_is_logged_and_never_raises(db: Database, tmp_path: Path) -> None:
    acc = _acc(db, added=T0 - timedelta(days=1))
    hang = tmp_path / "hang.py"
    hang.write_text("import time; time.sleep(30)")
    settings = hooks.parse_settings({"buyer_message": [sys.executable, str(hang)], "timeout": 0.5})
    r = hooks.HookRunner(db, settings, clock=lambda: T0)
    r.scan()
    ingest.apply_page(db, acc.id, "chats", _page("c", "1", "buyer", "?", T0))
    started = datetime.now(UTC)
    r.fire(r.scan())
    assert datetime.now(UTC) - started < timedelta(seconds=5)
    assert "killed after 0.5 s" in r.errors[-1]
    bad = hooks.HookRunner(db, hooks.parse_settings({"buyer_message": ["/nonexistent/hook"]}), clock=lambda: T0)
    ingest.apply_page(db, acc.id, "chats", _page("c", "2", "buyer", "??", T0))
    bad.fire(bad.scan())
    assert "cannot start" in bad.errors[-1]


def test_notify_command_is_the_buyer_message_hook(db: Database, recorder) -> None:  # type: ignore[no-untyped-def]
    argv, out = recorder
    settings = hooks.parse_settings({}, notify_command=argv)
    assert settings.hooks["buyer_message"].append_text
    acc = _acc(db, added=T0 - timedelta(days=1))
    r = hooks.HookRunner(db, settings, clock=lambda: T0)
    r.scan()
    ingest.apply_page(db, acc.id, "chats", _page("c", "1", "buyer", "Привет", T0, customer="Оля"))
    r.fire(r.scan())
    assert fired(out)[0]["argv"] == ["new message — Оля · OZ oz: Привет"]


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"buyer_message": "notify-send"}, "list of strings"),
        ({"buyer_message": []}, "list of strings"),
        ({"on_fire": ["x"]}, "unknown hooks setting"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": 1e20}, "timeout"),
        ({"window_closing_hours": -1}, "window_closing_hours"),
    ],
)
def test_bad_hook_settings_are_one_clear_line(raw: dict, words: str, tmp_path: Path) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=words):
        hooks.parse_settings(raw)
    from chatdesk.config import load_config
    from chatdesk.errors import UsageError

    cfg = tmp_path / "config.toml"
    key, value = next(iter(raw.items()))
    cfg.write_text(f"[hooks]\n{key} = {json.dumps(value)}\n")
    with pytest.raises(UsageError, match=words):
        load_config(cfg)


def test_watcher_tags_topics_and_runs_hooks_off_the_engine_thread(db: Database, recorder) -> None:  # type: ignore[no-untyped-def]
    argv, out = recorder
    acc = _acc(db, added=T0 - timedelta(days=1))
    r = runner(db, argv, events=("buyer_message",))
    w = hooks.Watcher(r, tag=lambda: None, every=3600)
    w.once()
    ingest.apply_page(db, acc.id, "chats", _page("c", "1", "buyer", "Брак", T0))
    w.once()
    assert [e["env"]["CHATDESK_EVENT"] for e in fired(out)] == ["buyer_message"]
