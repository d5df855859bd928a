"""Topics refined by the configured model (issue 14 §2): only the tags the rules are unsure of
are shown to it, in batches, in the background; its answer is checked against the taxonomy
(garbage or an unknown topic keeps the rules tag); the tag is stored with its source, and the
list, the filter and the report use it. Against the sandbox's fake endpoint over loopback,
with each of its faults."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from chatdesk import hooks
from chatdesk.assist import llm, topics
from chatdesk.assist import report as rep
from chatdesk.config import Config
from chatdesk.model import ChatInfo, MessageInfo, Page
from chatdesk.sandbox import build_sandbox
from chatdesk.sandbox import llm as fake
from chatdesk.store import accounts, ingest, views
from chatdesk.store import topics as store_topics
from chatdesk.store.db import Database
from tests.assist.topics_corpus import DEV, HELD_OUT

T0 = datetime.now(UTC) - timedelta(days=1)

# (chat, text, rules topic, unsure?, the fake model's topic)
MESSAGES = [
    ("c1", "Прислали не ту модель, у меня A52 а пришло на A54", "other", True, "wrong_item"),
    ("c2", "Можно ли мыть в посудомойке?", "other", True, "product"),
    ("c3", "Оплата прошла, а заказ висит", "price", True, "delivery"),
    ("c4", "Платье маломерит, какой размер брать на 44?", "size", False, "size"),
    ("c5", "ага понятно", "other", True, "other"),
]


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    sb = build_sandbox(chats=1)
    srv = sb.serve("127.0.0.1", 0)
    yield f"http://127.0.0.1:{srv.server_port}/llm/v1"
    srv.shutdown()


def _settings(base: str, model: str = "chatdesk-fake", timeout: float = 10, **kw: object) -> llm.AssistSettings:
    return llm.parse_settings({"base_url": base, "model": model, "timeout": timeout, **kw})


def build(db: Database) -> dict[str, int]:
    """One WB chat per message; returns external message id -> store id."""
    acc = accounts.add_account(db, "wb", "wildberries")
    page = Page(
        chats=tuple(ChatInfo(c, customer=f"Покупатель {c}", product_id="500") for c, *_ in MESSAGES),
        messages=tuple(
            MessageInfo(c, f"m{i}", "buyer", t, T0 + timedelta(minutes=i)) for i, (c, t, *_x) in enumerate(MESSAGES)
        ),
    )
    ingest.apply_page(db, acc.id, "chats", page)
    with db.read() as s:
        return {str(r[0]): int(r[1]) for r in s.execute(text("SELECT external_id, id FROM message"))}


def stored(db: Database) -> dict[str, tuple[str, str, bool]]:
    """message text -> (topic, source, still pending for the model)."""
    with db.read() as s:
        rows = s.execute(
            text(
                "SELECT m.text, t.topic, t.source, t.to_refine "
                "FROM message_topic t JOIN message m ON m.id = t.message_id"
            )
        ).all()
    return {str(r[0]): (str(r[1]), str(r[2]), bool(r[3])) for r in rows}


def test_the_rules_flag_their_own_mistakes_as_unsure() -> None:
    """Every held-out message the rules get wrong is among those they are unsure of, and every
    dev-set one they are sure of is right: the model is asked where it can help."""
    for data in (DEV, HELD_OUT):
        wrong = [t for t, label in data if topics.classify(t).code != label]
        assert all(topics.classify(t).unsure for t in wrong), wrong
    unsure = [t for t, _label in HELD_OUT if topics.classify(t).unsure]
    assert len(unsure) == 18 and len(HELD_OUT) == 54  # the README's figure
    t = topics.classify("Заказ пришёл не тот — вместо размера 44 прислали другой.")
    assert (t.code, t.rivals, t.unsure) == ("wrong_item", ("size",), True)
    assert not topics.classify("Платье маломерит, какой размер брать на 44?").unsure
    for text_, rules_topic, unsure in [(m[1], m[2], m[3]) for m in MESSAGES]:
        assert topics.rules_tag(text_) == (rules_topic, unsure)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"topics": {"1": "size", "2": "defect"}}', {1: "size", 2: "defect"}),
        ('Вот: ```json\n{"topics": {"1": "Размер", "2": "пришел не тот товар"}}\n```', {1: "size", 2: "wrong_item"}),
        ('{"1": "DELIVERY"}', {1: "delivery"}),
        ('[{"id": 2, "topic": "брак"}, {"id": "1", "topic": "thanks"}]', {2: "defect", 1: "thanks"}),
        ('{"topics": {"1": "погода", "2": "size; defect", "3": "size", "x": "size"}}', {}),  # 3 was not asked
        ('{"topics": {"1": ["size"], "2": null, "1 ": 5}}', {}),
        ("<html>not a completion", {}),
        ("Конечно! Это про доставку.", {}),
        ("", {}),
        ('{"topics": "size"}', {}),
    ],
)
def test_model_answers_are_checked_against_the_taxonomy(answer: str, expected: dict[int, str]) -> None:
    assert topics.parse_model_topics(answer, [1, 2]) == expected


def test_refine_tags_unsure_messages_with_their_source(db: Database, server: str) -> None:
    build(db)
    assert topics.tag_new(db) == len(MESSAGES)
    before = stored(db)
    assert {t: (topic, pending) for t, (topic, _s, pending) in before.items()} == {m[1]: (m[2], m[3]) for m in MESSAGES}
    done = topics.refine(db, _settings(server), batch=2)
    assert (done.asked, done.changed, done.error) == (4, 4, None)  # the sure one is never sent
    after = stored(db)
    for _c, text_, rules_topic, unsure, model_topic in MESSAGES:
        assert after[text_] == ((model_topic, "model", False) if unsure else (rules_topic, "rules", False))
    assert topics.refine(db, _settings(server)).asked == 0  # nothing is asked twice
    # a newer rules version never overwrites the model's tag
    store_topics.tag_pending(db, topics.rules_tag, version=topics.VERSION + 1)
    assert stored(db)[MESSAGES[0][1]] == ("wrong_item", "model", False)


def test_list_filter_and_report_use_the_model_tag(db: Database, server: str) -> None:
    build(db)
    topics.tag_new(db)
    topics.refine(db, _settings(server))
    rows = {r.preview: r for r in views.list_chats(db)}
    row = rows[MESSAGES[0][1]]
    assert (row.topic, row.topic_source) == ("wrong_item", "model")
    assert rows[MESSAGES[3][1]].topic_source == "rules"
    from chatdesk.widgets.assist_marks import topic_tag

    assert topic_tag(row) == "не тот*" and topic_tag(rows[MESSAGES[3][1]]) == "размер"
    found = views.list_chats(db, views.ChatFilter(topic="wrong_item"))
    assert [r.preview for r in found] == [MESSAGES[0][1]]
    now = datetime.now(UTC)
    r = rep.build(db, Config(), since=now - timedelta(days=7), until=now, by="topic", now=now)
    by = {g.key: g.buyer_messages for g in r.groups}
    assert by.get("delivery") == 1 and by.get("wrong_item") == 1 and "price" not in by


@pytest.mark.parametrize(
    ("model", "error"),
    [
        ("chatdesk-fake-500", r"failed \(HTTP 500\)"),
        ("chatdesk-fake-garbage", "not a chat completion"),
        ("chatdesk-fake-empty", "without a reply text"),
    ],
)
def test_a_failing_model_changes_nothing_and_is_retried(db: Database, server: str, model: str, error: str) -> None:
    build(db)
    topics.tag_new(db)
    before = stored(db)
    done = topics.refine(db, _settings(server, model))
    assert done.asked == 0 and done.changed == 0
    assert done.error is not None and __import__("re").search(error, done.error)
    assert stored(db) == before  # rules tags kept, still pending for the next round


@pytest.mark.parametrize("model", ["chatdesk-fake-babble", "chatdesk-fake-unknown"])
def test_nonsense_keeps_the_rules_tag_and_is_not_asked_again(db: Database, server: str, model: str) -> None:
    build(db)
    topics.tag_new(db)
    done = topics.refine(db, _settings(server, model))
    assert (done.asked, done.changed, done.error) == (4, 0, None)
    assert stored(db) == {m[1]: (m[2], "rules", False) for m in MESSAGES}
    assert topics.refine(db, _settings(server)).asked == 0


def test_a_slow_model_is_bounded(db: Database, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    build(db)
    topics.tag_new(db)
    monkeypatch.setattr(fake, "SLOW_SECONDS", 5.0)
    started = time.monotonic()
    done = topics.refine(db, _settings(server, "chatdesk-fake-slow", timeout=1))
    assert time.monotonic() - started < 4
    assert done.error == "the model at 127.0.0.1 did not answer within 1 s" and done.asked == 0
    assert all(p for _t, (_topic, _s, p) in stored(db).items() if _t != MESSAGES[3][1])


def test_budget_and_limit_bound_a_round(db: Database, server: str) -> None:
    build(db)
    topics.tag_new(db)
    assert topics.refine(db, _settings(server), batch=1, limit=2).asked == 2
    ticks = iter([0.0, 0.0, 100.0])
    assert topics.refine(db, _settings(server), batch=1, budget=50, clock=lambda: next(ticks)).asked == 1
    assert len(store_topics.pending_refinement(db, 10)) == 1


def test_the_request_carries_only_the_unsure_messages_and_the_taxonomy(db: Database, tmp_path: Path) -> None:
    """Through a command (opted in): it gets one JSON object on stdin, what it prints is the answer."""
    import sys

    build(db)
    topics.tag_new(db)
    seen = tmp_path / "seen.json"
    script = tmp_path / "topics.py"
    script.write_text(
        "import json, sys\n"
        "ctx = json.load(sys.stdin)\n"
        f"open({str(seen)!r}, 'w', encoding='utf-8').write(json.dumps(ctx, ensure_ascii=False))\n"
        "print(json.dumps({'topics': {m['id']: 'complaint' for m in ctx['messages']}}))\n"
    )
    settings = llm.parse_settings({"command": [sys.executable, str(script)], "refine_topics": True})
    assert settings.refines_topics
    done = topics.refine(db, settings)
    assert (done.asked, done.changed) == (4, 4)
    ctx = json.loads(seen.read_text(encoding="utf-8"))
    assert ctx["task"] == "topics" and ctx["topics"] == topics.TOPICS
    assert sorted(m["text"] for m in ctx["messages"]) == sorted(m[1] for m in MESSAGES if m[3])
    assert MESSAGES[3][1] not in seen.read_text(encoding="utf-8")


def test_who_refines_by_default() -> None:
    """Nothing leaves the machine unless the seller says so: a hosted endpoint refines only with
    refine_topics = true; a draft command only when opted in; no [assist], nothing."""
    assert llm.parse_settings({"base_url": "http://127.0.0.1:11434/v1", "model": "q"}).refines_topics
    assert not llm.parse_settings({"base_url": "https://api.example.com/v1", "model": "m"}).refines_topics
    assert llm.parse_settings(
        {"base_url": "https://api.example.com/v1", "model": "m", "refine_topics": True}
    ).refines_topics
    assert not llm.parse_settings({"command": ["/bin/true"]}).refines_topics
    assert not llm.parse_settings(
        {"base_url": "http://127.0.0.1/v1", "model": "m", "refine_topics": False}
    ).refines_topics
    assert not llm.parse_settings({}).refines_topics
    with pytest.raises(ValueError, match="refine_topics must be true or false"):
        llm.parse_settings({"refine_topics": "yes"})
    assert topics.refine(None, llm.parse_settings({})).error is not None  # type: ignore[arg-type]


class _Engine:
    def __init__(self) -> None:
        self.listeners: list = []  # type: ignore[type-arg]
        self.secrets = None

    def add_listener(self, fn) -> None:  # type: ignore[no-untyped-def]
        self.listeners.append(fn)


def test_sync_refines_in_the_background(db: Database, server: str) -> None:
    build(db)
    engine = _Engine()
    config = Config(assist={"base_url": server, "model": "chatdesk-fake", "timeout": 5})
    watcher = hooks.attach(engine, db, config)
    try:
        caller = threading.current_thread()
        started = time.monotonic()
        for fn in engine.listeners:
            fn("synced")  # what the engine does after a poll: returns at once
        assert time.monotonic() - started < 0.1 and threading.current_thread() is caller
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and stored(db).get(MESSAGES[0][1], ("", "", True))[1] != "model":
            time.sleep(0.1)
        assert stored(db)[MESSAGES[0][1]] == ("wrong_item", "model", False)
        assert [w._thread.name for w in watcher.companions] == ["chatdesk-topics"]
    finally:
        watcher.stop()


def test_no_model_no_refiner(db: Database) -> None:
    watcher = hooks.attach(_Engine(), db, Config())
    try:
        assert watcher.companions == []
    finally:
        watcher.stop()
    remote = Config(assist={"base_url": "https://api.example.com/v1", "model": "m"})
    watcher = hooks.attach(_Engine(), db, remote)
    try:
        assert watcher.companions == []
    finally:
        watcher.stop()


def test_cli_assist_topics(tmp_path: Path, server: str) -> None:
    from typer.testing import CliRunner

    from chatdesk.cli import app

    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = Database(url)
    build(db)
    db.close()
    cfg = tmp_path / "config.toml"
    env = {"CHATDESK_CONFIG": str(cfg)}
    cfg.write_text("")
    out = CliRunner().invoke(app, ["--db", url, "assist", "topics"], env=env)
    assert out.exit_code == 0, out.output
    assert "4 tags the rules are unsure of" in out.stdout
    out = CliRunner().invoke(app, ["--db", url, "assist", "topics", "--refine"], env=env)
    assert "no model is configured" in str(out.exception)  # UsageError: exit 2 from the console entry
    cfg.write_text(f'[assist]\nbase_url = "{server}"\nmodel = "chatdesk-fake-500"\n')
    out = CliRunner().invoke(app, ["--db", url, "assist", "topics", "--refine", "--json"], env=env)
    assert out.exit_code == 1
    assert json.loads(out.stdout)["refined"]["error"] == "the model at 127.0.0.1 failed (HTTP 500)"
    cfg.write_text(f'[assist]\nbase_url = "{server}"\nmodel = "chatdesk-fake"\n')
    out = CliRunner().invoke(app, ["--db", url, "assist", "topics", "--refine", "--json"], env=env)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["refined"] == {"asked": 4, "changed": 4, "error": None}
    rows = {(t["topic"], t["source"]): t["messages"] for t in data["topics"]}
    assert rows == {("wrong_item", "model"): 1, ("product", "model"): 1, ("delivery", "model"): 1,
                    ("other", "model"): 1, ("size", "rules"): 1}  # fmt: skip
    out = CliRunner().invoke(app, ["--db", url, "assist", "topics"], env=env)
    assert "model" in out.stdout and "пришёл не тот товар" in out.stdout
    out = CliRunner().invoke(app, ["--db", url, "assist", "topics", "--recheck", "--json"], env=env)
    assert json.loads(out.stdout)["rechecked"] == 0  # the model's tags are never re-asked


def test_a_model_that_stays_down_is_logged_once(db: Database, server: str, caplog: pytest.LogCaptureFixture) -> None:
    build(db)
    topics.tag_new(db)
    said: list[str | None] = [None]
    down = _settings(server, "chatdesk-fake-500")
    with caplog.at_level("INFO", logger="chatdesk.hooks"):
        for _ in range(3):
            hooks.refine_topics(db, down, None, said)
        assert [r.getMessage() for r in caplog.records] == ["topics: the model at 127.0.0.1 failed (HTTP 500)"]
        done = hooks.refine_topics(db, _settings(server), None, said)
    assert done.asked == 4  # type: ignore[attr-defined]
    assert caplog.records[-1].getMessage() == "topics: the model answers again"


def test_tags_stored_before_refinement_are_rechecked_on_request(db: Database, server: str) -> None:
    build(db)
    # a chatdesk without refinement stored plain codes: nothing is pending for the model
    store_topics.tag_pending(db, lambda t: topics.classify(t).code, version=topics.VERSION)
    assert topics.refine(db, _settings(server)).asked == 0
    assert topics.recheck(db) == 4  # the four unsure ones, not the sure size question
    assert topics.recheck(db) == 0  # marked already
    assert topics.refine(db, _settings(server)).changed == 4


def test_since_bounds_which_messages_are_refined(db: Database, server: str) -> None:
    build(db)  # written a day ago
    topics.tag_new(db)
    now = datetime.now(UTC)
    assert topics.refine(db, _settings(server), since=now - timedelta(hours=1)).asked == 0
    assert topics.refine(db, _settings(server), since=now - timedelta(days=2)).asked == 4
