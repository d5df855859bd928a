"""Stored topics of buyer messages (table ``message_topic``): tagging what is not tagged yet,
reading a chat's current topic, and filtering chats by it.

The classifier is handed in (``text -> topic code``), so the store never imports the assist
layer. Engine-agnostic SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import text

from chatdesk.store.db import Database

BATCH = 5_000


def tag_pending(
    db: Database,
    classify: Callable[[str], str],
    *,
    version: int,
    limit: int | None = None,
    batch: int = BATCH,
) -> int:
    """Tag buyer messages that have no topic, or a ``rules`` topic from an older ``version``,
    oldest first, in transactions of ``batch``; at most ``limit`` messages (None: all).
    Returns how many were tagged. Safe to run from several processes (upsert on the key).

    Incremental: when the store already holds tags of this ``version``, only messages after
    the newest tagged one are looked at (message ids only grow), so a call after each sync
    costs what arrived; a new ``version`` re-reads everything once."""
    done = 0
    with db.read() as s:
        newest = s.execute(
            text("SELECT max(message_id) FROM message_topic WHERE source = 'rules' AND version = :v"), {"v": version}
        ).scalar()
        older = s.execute(
            text("SELECT 1 FROM message_topic WHERE source = 'rules' AND version < :v LIMIT 1"), {"v": version}
        ).first()
    after = 0 if older is not None or newest is None else int(newest)
    select_sql = text(
        "SELECT m.id, m.text FROM message m LEFT JOIN message_topic t ON t.message_id = m.id "
        "WHERE m.author = 'buyer' AND m.id > :after "
        "AND (t.message_id IS NULL OR (t.source = 'rules' AND t.version < :v)) ORDER BY m.id LIMIT :n"
    )
    upsert = text(
        "INSERT INTO message_topic (message_id, topic, source, version) VALUES (:id, :topic, 'rules', :v) "
        "ON CONFLICT (message_id) DO UPDATE SET topic = excluded.topic, version = excluded.version "
        "WHERE message_topic.source = 'rules'"
    )
    while limit is None or done < limit:
        n = batch if limit is None else min(batch, limit - done)
        with db.read() as s:
            rows = s.execute(select_sql, {"after": after, "v": version, "n": n}).all()
        if not rows:
            break
        params = [{"id": int(r[0]), "topic": classify(str(r[1] or "")), "v": version} for r in rows]
        with db.write() as s:
            s.execute(upsert, params)
        done += len(rows)
        after = int(rows[-1][0])
    return done


def set_topic(db: Database, message_id: int, topic: str, source: str = "model") -> None:
    """Record a topic from another source (the configured model); it then wins over the rules."""
    with db.write() as s:
        s.execute(
            text(
                "INSERT INTO message_topic (message_id, topic, source, version) VALUES (:id, :t, :s, 0) "
                "ON CONFLICT (message_id) DO UPDATE SET topic = excluded.topic, source = excluded.source"
            ),
            {"id": message_id, "t": topic, "s": source},
        )


_CHAT_TOPIC = (
    "SELECT t.topic FROM message_topic t WHERE t.message_id = (SELECT m.id FROM message m "
    "WHERE m.chat_id = c.id AND m.author = 'buyer' ORDER BY m.created_at DESC, m.id DESC LIMIT 1)"
)


def chat_topics(db: Database, chat_ids: Iterable[int]) -> dict[int, str]:
    """chat id -> topic of its newest buyer message (absent while that one is not tagged).
    One indexed lookup per chat: meant for a page of the list, not the whole store."""
    ids = sorted(set(chat_ids))
    if not ids:
        return {}
    out: dict[int, str] = {}
    with db.read() as s:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join(str(int(i)) for i in chunk)
            rows = s.execute(text(f"SELECT c.id, ({_CHAT_TOPIC}) FROM chat c WHERE c.id IN ({marks})")).all()
            out.update({int(r[0]): str(r[1]) for r in rows if r[1]})
    return out


def chats_with_topic(db: Database, topic: str) -> set[int]:
    """Ids of chats whose newest buyer message has ``topic`` (the list's topic filter)."""
    with db.read() as s:
        rows = s.execute(text(f"SELECT c.id FROM chat c WHERE ({_CHAT_TOPIC}) = :t"), {"t": topic}).all()
    return {int(r[0]) for r in rows}


def message_topics(db: Database, message_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted({int(i) for i in message_ids})
    if not ids:
        return {}
    out: dict[int, str] = {}
    with db.read() as s:
        for start in range(0, len(ids), 500):
            marks = ",".join(str(i) for i in ids[start : start + 500])
            rows = s.execute(text(f"SELECT message_id, topic FROM message_topic WHERE message_id IN ({marks})"))
            out.update({int(r[0]): str(r[1]) for r in rows})
    return out
