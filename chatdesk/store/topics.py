"""Stored topics of buyer messages (table ``message_topic``): tagging what is not tagged yet,
reading a chat's current topic, and filtering chats by it.

The classifier is handed in (``text -> topic code``), so the store never imports the assist
layer. Engine-agnostic SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from sqlalchemy import text

from chatdesk.store.db import Database, rowcount, to_db

BATCH = 5_000


def tag_pending(
    db: Database,
    classify: Callable[[str], str | tuple[str, bool]],
    *,
    version: int,
    limit: int | None = None,
    batch: int = BATCH,
) -> int:
    """Tag buyer messages that have no topic, or a ``rules`` topic from an older ``version``,
    oldest first, in transactions of ``batch``; at most ``limit`` messages (None: all).
    ``classify`` returns a topic code, or ``(code, unsure)``: an unsure tag is left for the
    configured model (``to_refine``, see :func:`pending_refinement`).
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
        "INSERT INTO message_topic (message_id, topic, source, version, to_refine) "
        "VALUES (:id, :topic, 'rules', :v, :r) "
        "ON CONFLICT (message_id) DO UPDATE SET topic = excluded.topic, version = excluded.version, "
        "to_refine = excluded.to_refine WHERE message_topic.source = 'rules'"
    )
    while limit is None or done < limit:
        n = batch if limit is None else min(batch, limit - done)
        with db.read() as s:
            rows = s.execute(select_sql, {"after": after, "v": version, "n": n}).all()
        if not rows:
            break
        params = []
        for r in rows:
            got = classify(str(r[1] or ""))
            code, unsure = got if isinstance(got, tuple) else (got, False)
            params.append({"id": int(r[0]), "topic": code, "v": version, "r": bool(unsure)})
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
                "INSERT INTO message_topic (message_id, topic, source, version, to_refine) "
                "VALUES (:id, :t, :s, 0, :f) "
                "ON CONFLICT (message_id) DO UPDATE SET topic = excluded.topic, source = excluded.source, "
                "to_refine = excluded.to_refine"
            ),
            {"id": message_id, "t": topic, "s": source, "f": False},
        )


def pending_refinement(db: Database, limit: int, *, since: datetime | None = None) -> list[tuple[int, str, str]]:
    """Up to ``limit`` buyer messages whose rules tag is unsure and not yet shown to the model,
    newest first (what the seller sees first), written at or after ``since`` if given:
    ``(message id, text, rules topic)``."""
    when = " AND m.created_at >= :since" if since is not None else ""
    with db.read() as s:
        rows = s.execute(
            text(
                "SELECT t.message_id, m.text, t.topic FROM message_topic t JOIN message m ON m.id = t.message_id "
                f"WHERE t.to_refine = :yes AND t.source = 'rules'{when} ORDER BY t.message_id DESC LIMIT :n"
            ),
            {"yes": True, "n": int(limit), **({"since": to_db(since)} if since is not None else {})},
        ).all()
    return [(int(r[0]), str(r[1] or ""), str(r[2])) for r in rows]


def mark_unsure(db: Database, unsure: Callable[[str], bool], *, batch: int = BATCH) -> int:
    """Look again at every stored ``rules`` tag and mark for the model those ``unsure`` says the
    rules are unsure of (tags stored before ``to_refine`` existed, or ones the model could not
    tag before). Keyset pages of ``batch`` messages in id order, one write per page. Returns how
    many were marked."""
    marked = 0
    after = 0
    select_sql = text(
        "SELECT t.message_id, m.text FROM message_topic t JOIN message m ON m.id = t.message_id "
        "WHERE t.source = 'rules' AND t.to_refine = :no AND t.message_id > :after ORDER BY t.message_id LIMIT :n"
    )
    update = text("UPDATE message_topic SET to_refine = :yes WHERE message_id = :id AND source = 'rules'")
    while True:
        with db.read() as s:
            rows = s.execute(select_sql, {"no": False, "after": after, "n": batch}).all()
        if not rows:
            return marked
        ids = [{"id": int(r[0]), "yes": True} for r in rows if unsure(str(r[1] or ""))]
        if ids:
            with db.write() as s:
                s.execute(update, ids)
            marked += len(ids)
        after = int(rows[-1][0])


def apply_refinement(db: Database, asked: Iterable[int], answers: Mapping[int, str]) -> int:
    """Record what the model answered for the messages in ``asked``: a topic in ``answers``
    replaces the rules tag (``source = "model"``); every asked message stops being pending,
    answered or not (a message the model could not tag keeps its rules tag and is not asked
    again). Only rows still pending change, so two processes never apply twice.
    Returns how many tags the model set."""
    ids = sorted({int(i) for i in asked})
    if not ids:
        return 0
    set_model = text(
        "UPDATE message_topic SET topic = :t, source = 'model', version = 0, to_refine = :no "
        "WHERE message_id = :id AND to_refine = :yes AND source = 'rules'"
    )
    keep = text("UPDATE message_topic SET to_refine = :no WHERE message_id = :id AND to_refine = :yes")
    changed = 0
    with db.write() as s:
        for i in ids:
            if i in answers:
                result = s.execute(set_model, {"t": answers[i], "id": i, "no": False, "yes": True})
                changed += rowcount(result)
            else:
                s.execute(keep, {"id": i, "no": False, "yes": True})
    return changed


def topic_counts(db: Database) -> list[tuple[str, str, int, int]]:
    """``(topic, source, messages, still pending for the model)`` over the whole store, for
    ``chatdesk assist topics``."""
    with db.read() as s:
        rows = s.execute(
            text(
                "SELECT topic, source, count(*), sum(CASE WHEN to_refine = :yes THEN 1 ELSE 0 END) "
                "FROM message_topic GROUP BY topic, source ORDER BY topic, source"
            ),
            {"yes": True},
        ).all()
    return [(str(r[0]), str(r[1]), int(r[2]), int(r[3] or 0)) for r in rows]


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
