"""A seeded inbox of any size, written straight into a chatdesk store.

Going through the sandbox and the connectors would take an hour for a million messages, so
the generator writes rows with bulk SQLAlchemy Core inserts in large transactions instead.
What it writes must be exactly what ``store.ingest.apply_page`` would have written for the
same chats and messages (chat aggregates, message rows, FTS index), otherwise the benchmarks
would measure a store chatdesk never produces: :func:`write_via_ingest` writes the same plan
the slow, official way and ``tests/test_bench_smoke.py`` compares the two.

The plan: three accounts named like the demo's (``demo-wb``, ``demo-ozon``, ``demo-ym``),
chats spread over them round-robin; chat 1 holds ``big_chat`` messages and chat 2
``small_chat`` (figure 4 opens both), the rest share the remaining messages unevenly.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, text, update

from chatdesk.model import Attachment, ChatInfo, MessageInfo, Page
from chatdesk.sandbox import PREFIXES, SANDBOX_TOKEN
from chatdesk.sandbox.seed import NAMES, PRODUCTS, SCRIPTS
from chatdesk.secrets import MemorySecrets
from chatdesk.store import fts, ingest
from chatdesk.store.db import Database
from chatdesk.store.schema import Chat, Message
from chatdesk.usecases.accounts import add_account

BASE_URL = "http://127.0.0.1"  # the sandbox transport answers in-process; never dialled
SETTINGS = {"ozon": {"client_id": "123456"}, "yandex": {"business_id": "12345678"}}
MARKETPLACES = ("wildberries", "ozon", "yandex")
PREVIEW_LEN = ingest.PREVIEW_LEN
BATCH = 25_000
# Columns a chat row may get from its ChatInfo (absent ones are NULL, as after ingestion).
CHAT_FIELDS = ("kind", "customer", "order_id", "product_id", "status", "reply_token", "version", "context")

# Phrases buyers and sellers really write; combined at random they give FTS common words
# (заказ, размер, доставка), rarer ones (шов, отжим) and product names, with ё in places.
PHRASES = [
    "Здравствуйте!",
    "Добрый день.",
    "Подскажите, пожалуйста, когда будет доставка?",
    "Заказ до сих пор не пришёл.",
    "Можно поменять размер на больший?",
    "Товар пришёл с браком, шов разошёлся.",
    "Как оформить возврат?",
    "Спасибо, всё получила.",
    "Цвет отличается от фото.",
    "Есть ли в наличии другой цвет?",
    "Упаковка была повреждена при доставке.",
    "Курьер не приехал в назначенное время.",
    "Можно ли стирать в машинке при 40 градусах?",
    "Подойдёт ли на рост 175?",
    "Пункт выдачи закрыт, заберу завтра.",
    "Деньги вернутся в течение 3–5 рабочих дней.",
    "Оформите возврат в личном кабинете в разделе «Покупки».",
    "Заказ передан в доставку, ожидайте в течение 2–3 дней.",
    "Размерная сетка российская, советуем брать на размер больше.",
    "Приносим извинения за задержку.",
    "Пришлите, пожалуйста, фото этикетки.",
    "Проверим на складе и вернёмся с ответом.",
    "Скидка на опт от 50 штук.",
    "Гарантия 12 месяцев, чек сохраните.",
    "Отличное качество, буду заказывать ещё!",
    "Молния заедает с первого дня.",
    "Инструкция на русском языке есть в коробке.",
    "Ёлочная игрушка пришла разбитой.",
    "Отжим не выше 600 оборотов.",
    "Трек-номер пришлём сегодня вечером.",
]
MARKETPLACE_LINES = [
    "Покупатель открыл спор по заказу.",
    "Напоминание: ответьте покупателю в течение 24 часов.",
    "Чат закрыт маркетплейсом.",
]
STATUSES = {"wildberries": (None,), "ozon": ("OPENED", "CLOSED"), "yandex": ("NEW", "WAITING_FOR_PARTNER", "FINISHED")}


@dataclass(frozen=True)
class Spec:
    chats: int = 10_000
    messages: int = 1_000_000
    big_chat: int = 10_000
    small_chat: int = 10
    seed: int = 1
    anchor: datetime = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # "now" of the generated history

    @property
    def key(self) -> str:
        """Names a cached store: the same key means the same rows."""
        sizes = f"c{self.chats}-m{self.messages}-b{self.big_chat}-s{self.small_chat}"
        return f"{sizes}-r{self.seed}-{self.anchor:%Y%m%d%H}-v1"


@dataclass(frozen=True)
class GenChat:
    account: int  # index into MARKETPLACES
    info: ChatInfo
    count: int  # how many messages it gets


Row = tuple[str, str, str, datetime, tuple[Attachment, ...]]  # external id, author, text, at, attachments


def _counts(spec: Spec, rng: random.Random) -> list[int]:
    """Messages per chat: chat 1 big, chat 2 small, the rest uneven (1..~4x mean) summing exactly."""
    if spec.chats == 1:
        return [spec.messages]
    big, small = min(spec.big_chat, spec.messages), min(spec.small_chat, max(0, spec.messages - spec.big_chat))
    rest_chats = spec.chats - 2
    rest = spec.messages - big - small
    if rest_chats <= 0:
        return [big, small + rest][: spec.chats]
    weights = [rng.uniform(0.25, 1.75) for _ in range(rest_chats)]
    scale = rest / sum(weights)
    counts = [max(1, int(w * scale)) for w in weights]
    diff = rest - sum(counts)
    i = 0
    while diff != 0:
        step = 1 if diff > 0 else -1
        if counts[i % rest_chats] + step >= 1:
            counts[i % rest_chats] += step
            diff -= step
        i += 1
    return [big, small, *counts]


def plan(spec: Spec) -> list[GenChat]:
    """Every chat of the inbox (messages come later, from :func:`messages`)."""
    rng = random.Random(spec.seed)
    out: list[GenChat] = []
    for i, count in enumerate(_counts(spec, rng)):
        acc = i % len(MARKETPLACES)
        mp = MARKETPLACES[acc]
        product = rng.choice(PRODUCTS)
        if mp == "wildberries":
            ext = f"1:{rng.getrandbits(128):032x}"
            extra = {"reply_token": f"{ext}:{rng.randint(10**7, 10**8 - 1)}:{rng.getrandbits(256):064x}"}
        elif mp == "ozon":
            ext = f"{rng.getrandbits(128):032x}"
            extra = {"order_id": f"{rng.randint(10**7, 10**8 - 1)}-{rng.randint(1000, 9999)}-1"}
        else:
            ext = str(100_000_000 + i)
            extra = {"order_id": str(rng.randint(10**8, 10**9 - 1))}
        info = ChatInfo(
            external_id=ext,
            kind="chat",
            customer=f"{rng.choice(NAMES)} {chr(0x410 + rng.randrange(32))}.",
            product_id=str(product.article),
            status=rng.choice(STATUSES[mp]),
            context={"title": product.title, "size": product.size},
            **extra,  # type: ignore[arg-type]
        )
        out.append(GenChat(acc, info, count))
    return out


def messages(spec: Spec, chat_index: int, chat: GenChat) -> Iterator[Row]:
    """One chat's messages, oldest first, strictly increasing in time (seeded per chat)."""
    rng = random.Random(spec.seed * 1_000_003 + chat_index)
    mp = MARKETPLACES[chat.account]
    n = chat.count
    # The newest message is up to 30 days old (a few minutes for some: "waiting" chats);
    # gaps average an hour, so the 10,000-message chat spans a bit over a year.
    end = spec.anchor - timedelta(minutes=rng.choice((rng.randint(1, 90), rng.randint(60, 30 * 24 * 60))))
    gaps = [timedelta(seconds=rng.randint(30, 7200)) for _ in range(n)]
    at = end - sum(gaps[1:], timedelta())
    author = "buyer"
    opening = SCRIPTS[chat_index % len(SCRIPTS)][0].format(size="M", order=chat.info.order_id or "1")
    for k in range(n):
        if k:
            at += gaps[k]
            r = rng.random()
            author = "marketplace" if r < 0.03 else "seller" if r < 0.45 else "buyer"
        if k == 0:
            body = opening
        elif author == "marketplace":
            body = rng.choice(MARKETPLACE_LINES)
        else:
            body = " ".join(rng.choice(PHRASES) for _ in range(rng.randint(1, 3)))
            if rng.random() < 0.05:
                body += f" Артикул {rng.choice(PRODUCTS).article}."
        files: tuple[Attachment, ...] = ()
        if rng.random() < 0.01:
            files = (Attachment(name=f"photo_{k}.jpg", size=rng.randint(10_000, 900_000), content_type="image/jpeg",
                                download_id=f"{rng.getrandbits(64):016x}"),)
            if rng.random() < 0.5:
                body = ""
        # WB event ids are opaque; Ozon and YM ids are numeric, increasing per chat
        ext = f"{rng.getrandbits(128):032x}" if mp == "wildberries" else str(chat_index * 100_000 + k + 1)
        yield ext, author, body, at.replace(microsecond=0), files


def _id_key(value: str | None) -> tuple[int, int | str]:
    if value is None:
        return (0, 0)
    return (1, int(value)) if value.isdigit() else (2, value)


def _attachments_json(files: tuple[Attachment, ...]) -> str:
    if not files:
        return "[]"  # json.dumps([]): the common case, without the encoder
    return json.dumps([asdict(a) for a in files], ensure_ascii=False)


class _Aggregate:
    """The chat columns ``apply_page`` keeps, folded over the chat's messages in order."""

    __slots__ = ("last_at", "last_author", "last_buyer_at", "last_buyer_id", "last_id", "preview", "unread")

    def __init__(self) -> None:
        self.last_at: datetime | None = None
        self.last_author: str | None = None
        self.preview: str | None = None
        self.unread = 0
        self.last_id: str | None = None
        self.last_buyer_id: str | None = None
        self.last_buyer_at: datetime | None = None

    def add(self, ext: str, author: str, body: str, at: datetime, files: tuple[Attachment, ...]) -> None:
        if author == "buyer":
            self.last_buyer_at = max(self.last_buyer_at or at, at)
            if self.last_buyer_id is None or _id_key(ext) > _id_key(self.last_buyer_id):
                self.last_buyer_id = ext
        if self.last_at is None or at >= self.last_at:
            self.last_at = at
            self.last_author = author
            self.preview = (body or ", ".join(f"[{a.name}]" for a in files))[:PREVIEW_LEN]
            if author == "seller":
                self.unread = 0
            elif author == "buyer":
                self.unread += 1
        if self.last_id is None or _id_key(ext) > _id_key(self.last_id):
            self.last_id = ext


def _version(mp: str, last_id: str | None, last_at: datetime | None) -> str | None:
    """What each connector stores as the chat's version once its history is complete."""
    if last_at is None:
        return None
    if mp == "wildberries":
        return str(int(last_at.timestamp() * 1000))
    if mp == "ozon":
        return last_id
    return last_at.isoformat()


def create_accounts(db: Database) -> list[int]:
    """The demo's three accounts, pointing at the in-process sandbox."""
    secrets = MemorySecrets()
    ids = []
    for mp in MARKETPLACES:
        row = add_account(
            db, secrets, mp, account_name(mp), SANDBOX_TOKEN,
            base_url=f"{BASE_URL}/{PREFIXES[mp]}", settings=SETTINGS.get(mp, {}),
        )
        ids.append(row.id)
    return ids


def account_name(marketplace: str) -> str:
    return f"demo-{PREFIXES[marketplace]}"


@dataclass
class Generated:
    chats: int
    messages: int
    seconds: float


def write_bulk(db: Database, spec: Spec, *, fts_mode: str = "rebuild") -> Generated:
    """Write the plan with bulk Core inserts; ``fts_mode`` "rebuild" indexes once at the end
    (the message insert trigger is dropped meanwhile), "trigger" indexes row by row."""
    import time

    start = time.perf_counter()
    account_ids = create_accounts(db)
    chats = plan(spec)
    chat_table, msg_table = Chat.__table__, Message.__table__
    created = spec.anchor - timedelta(days=400)
    with db.write() as s:
        if fts_mode == "rebuild":
            s.execute(text("DROP TRIGGER IF EXISTS message_fts_ai"))
        s.execute(
            chat_table.insert(),  # type: ignore[attr-defined]
            [
                {
                    **dict.fromkeys(CHAT_FIELDS),
                    "kind": "chat",
                    "context": "{}",
                    "id": i + 1,
                    "account_id": account_ids[c.account],
                    "external_id": c.info.external_id,
                    "created_at": created,
                    "unread": 0,
                    **ingest._chat_values(c.info),
                }
                for i, c in enumerate(chats)
            ],
        )
    updates: list[dict[str, object]] = []
    batch: list[dict[str, object]] = []
    total = 0

    def flush() -> None:
        with db.write() as s:
            s.execute(msg_table.insert(), batch)  # type: ignore[attr-defined]
        batch.clear()

    for i, chat in enumerate(chats):
        agg = _Aggregate()
        chat_id = i + 1
        for ext, author, body, at, files in messages(spec, i, chat):
            agg.add(ext, author, body, at, files)
            batch.append(
                {
                    "chat_id": chat_id,
                    "external_id": ext,
                    "author": author,
                    "text": body,
                    "created_at": at,
                    "attachments": _attachments_json(files),
                    "state": "received",
                }
            )
            if len(batch) >= BATCH:
                total += len(batch)
                flush()
        updates.append(
            {
                "cid": chat_id,
                "last_message_at": agg.last_at,
                "last_author": agg.last_author,
                "preview": agg.preview,
                "unread": agg.unread,
                "last_message_id": agg.last_id,
                "last_buyer_message_id": agg.last_buyer_id,
                "last_buyer_at": agg.last_buyer_at,
                "version": _version(MARKETPLACES[chat.account], agg.last_id, agg.last_at),
            }
        )
    total += len(batch)
    if batch:
        flush()
    with db.write() as s:
        cols = [k for k in updates[0] if k != "cid"] if updates else []
        stmt = update(chat_table).where(chat_table.c.id == bindparam("cid")).values(  # type: ignore[attr-defined]
            {c: bindparam(c) for c in cols}
        )
        s.connection().execute(stmt, updates)
        if fts_mode == "rebuild":
            col = fts._FOLD.format(col="text")
            s.execute(text(f"INSERT INTO message_fts(rowid, text) SELECT id, {col} FROM message"))
    fts.install(db)  # puts the insert trigger back (the index already exists: no re-index)
    return Generated(len(chats), total, time.perf_counter() - start)


def write_via_ingest(db: Database, spec: Spec) -> Generated:
    """The same plan through ``apply_page``, one chat per page: slow, the reference."""
    import time

    start = time.perf_counter()
    account_ids = create_accounts(db)
    total = 0
    for i, chat in enumerate(plan(spec)):
        mp = MARKETPLACES[chat.account]
        rows = list(messages(spec, i, chat))
        agg = _Aggregate()
        for r in rows:
            agg.add(*r)
        info = ChatInfo(**{**asdict(chat.info), "version": _version(mp, agg.last_id, agg.last_at)})
        msgs = tuple(
            MessageInfo(chat.info.external_id, ext, author, body, at, files)  # type: ignore[arg-type]
            for ext, author, body, at, files in rows
        )
        ingest.apply_page(db, account_ids[chat.account], "chats", Page(chats=(info,), messages=msgs))
        total += len(msgs)
    return Generated(spec.chats, total, time.perf_counter() - start)
