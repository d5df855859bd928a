"""The Yandex Market sim driven by the real connector in-process: a full poll reproduces the
sim's truth, idle polls cost list pages only, faults are survived, replies echo back."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from chatdesk.connectors.base import (
    AccountConfig,
    AuthError,
    ChatRef,
    KnownChat,
    OutgoingFile,
    Page,
    RateLimited,
    Rejected,
)
from chatdesk.connectors.yandex import YandexConnector
from chatdesk.sandbox.core import BAD_TOKEN, Fault, Sandbox, iso
from chatdesk.sandbox.seed import conversations
from chatdesk.sandbox.yandex import BIG_CHAT_ID, BUSINESS_ID, YandexSim, rate_limit_fault

BASE = "http://sandbox/ym"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 7, 20, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Store:
    """What sync does with pages, reduced to the parts the truth compares."""

    def __init__(self) -> None:
        self.chats: dict[str, dict] = {}
        self.messages: dict[str, dict[str, dict]] = {}
        self.versions: dict[str, str] = {}

    def apply(self, pages: list[Page]) -> None:
        for page in pages:
            for chat in page.chats:
                row = self.chats.setdefault(chat.external_id, {"external_id": chat.external_id, "kind": "chat",
                                                              "customer": None, "order_id": None,
                                                              "product_id": None, "status": None})
                for name in ("customer", "order_id", "product_id", "status"):
                    if getattr(chat, name) is not None:
                        row[name] = getattr(chat, name)
                if chat.version is not None:
                    self.versions[chat.external_id] = chat.version
            for m in page.messages:
                self.messages.setdefault(m.chat_external_id, {}).setdefault(m.external_id, {
                    "external_id": m.external_id, "author": m.author, "text": m.text,
                    "created_at": iso(m.created_at), "attachments": [a.name for a in m.attachments],
                })

    def known(self) -> dict[str, KnownChat]:
        return {
            cid: KnownChat(cid, self.versions.get(cid), max(self.messages.get(cid, {}), key=int, default=None),
                           row["status"])
            for cid, row in self.chats.items()
        }

    def view(self) -> dict:
        return {
            "chats": sorted(self.chats.values(), key=lambda c: int(c["external_id"])),
            "messages": {
                cid: sorted(ms.values(), key=lambda m: (m["created_at"], int(m["external_id"])))
                for cid, ms in self.messages.items()
            },
        }


def make(page_size: int | None = None, chats: int = 12, token: str = "sandbox-token"):
    clock = Clock()
    rng = random.Random(11)
    sim = YandexSim(rng, clock, page_size=page_size)
    sim.seed(conversations(rng, chats, clock()))
    sandbox = Sandbox([sim])
    client = httpx.AsyncClient(transport=sandbox.transport())
    account = AccountConfig("ym", "yandex", token, BASE, {"business_id": str(BUSINESS_ID)})
    return clock, sim, sandbox, YandexConnector(account, client)


async def poll(connector, store: Store) -> list[Page]:
    pages = [p async for p in connector.poll("chats", None, store.known())]
    store.apply(pages)
    return pages


def counts(sim: YandexSim) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, n in sim.requests.items():
        name = key.rsplit("/", 1)[-1] if "/chats/" in key else key.split(" ")[0] + " list"
        out[name] = out.get(name, 0) + n
    return out


def test_seed_covers_contexts_statuses_and_big_ids() -> None:
    _, sim, _, _ = make()
    chats = sim.chats.values()
    assert BIG_CHAT_ID in sim.chats and BIG_CHAT_ID > 2**53
    assert {c.context_type for c in chats} == {"ORDER", "RETURN", "DIRECT"}
    assert {"WAITING_FOR_PARTNER", "WAITING_FOR_CUSTOMER", "FINISHED"} <= {c.status for c in chats}
    ids = [m.id for c in chats for m in c.messages]
    assert any(i > 2**53 for i in ids) and len(set(ids)) == len(ids)
    truth = sim.truth()
    direct = next(c for c in chats if c.context_type == "DIRECT")
    assert next(c for c in truth["chats"] if c["external_id"] == str(direct.id))["order_id"] is None


@pytest.mark.parametrize("page_size", [None, 2])
async def test_full_poll_equals_truth_and_idle_poll_lists_only(page_size) -> None:
    _, sim, sandbox, connector = make(page_size)
    store = Store()
    await poll(connector, store)
    assert store.view() == sim.truth()
    assert str(BIG_CHAT_ID) in store.chats
    assert any(int(mid) > 2**53 for ms in store.messages.values() for mid in ms)
    if page_size:
        assert sim.requests[f"POST /v2/businesses/{BUSINESS_ID}/chats"] == math.ceil(len(sim.chats) / page_size)

    sandbox.reset_counts()
    idle = await poll(connector, store)
    assert [(p.chats, p.messages) for p in idle] == [((), ())]  # only the cursor (when the listing began)
    pages_needed = math.ceil(len(sim.chats) / (page_size or 20))
    assert counts(sim) == {"POST list": pages_needed}


async def test_changes_fetch_only_changed_chats_from_the_last_message() -> None:
    clock, sim, sandbox, connector = make(page_size=3)
    store = Store()
    await poll(connector, store)
    finished = next(c for c in sim.chats.values() if c.status == "FINISHED")
    clock.now += timedelta(minutes=5)
    sim.buyer_writes(str(BIG_CHAT_ID), "А когда отправка?")
    new_chat = sim.buyer_writes(None, "Есть в другом цвете?")
    sim.seller_portal_writes(str(finished.id), "Если что, пишите!")
    sandbox.reset_counts()
    pages = await poll(connector, store)
    assert store.view() == sim.truth()
    assert counts(sim)["history"] == 3  # exactly the three changed chats, one page each
    assert {m.external_id for p in pages for m in p.messages} == {
        str(c.messages[-1].id) for c in (sim.chats[BIG_CHAT_ID], sim.chats[int(new_chat)], finished)
    }


async def test_duplicate_pages_are_deduped() -> None:
    clock, sim, sandbox, connector = make(page_size=2)
    sandbox.inject(Fault(kind="duplicate", path="/chats", times=4))
    store = Store()
    pages = await poll(connector, store)
    assert sim.replays >= 3  # the faults really served old data again
    seen = [(m.chat_external_id, m.external_id) for p in pages for m in p.messages]
    assert len(seen) == len(set(seen))
    assert store.view() == sim.truth()

    clock.now += timedelta(minutes=1)
    sim.buyer_writes(str(BIG_CHAT_ID), "Ещё вопрос")
    sim.duplicate_next = 0
    replays = sim.replays
    sandbox.inject(Fault(kind="duplicate", path="/chats/history"))
    pages = await poll(connector, store)
    assert sim.replays == replays + 1  # messageIdFrom answered with an older message too
    assert [m.text for p in pages for m in p.messages] == ["Ещё вопрос"]
    assert store.view() == sim.truth()


async def test_send_echoes_as_seller_and_files_round_trip() -> None:
    clock, sim, _, connector = make()
    store = Store()
    await poll(connector, store)
    target = sim.chats[BIG_CHAT_ID]
    target.status = "WAITING_FOR_PARTNER"
    clock.now += timedelta(minutes=2)
    await connector.send(ChatRef(str(BIG_CHAT_ID), status=target.status), "Добрый день! Отправим завтра.")
    invoice = OutgoingFile("счёт.pdf", b"%PDF-1.7 demo", "application/pdf")
    await connector.send(ChatRef(str(BIG_CHAT_ID)), "", (invoice,))
    pages = await poll(connector, store)
    echoed = [m for p in pages for m in p.messages]
    assert [(m.author, m.text) for m in echoed] == [("seller", "Добрый день! Отправим завтра."), ("seller", "")]
    assert echoed[1].attachments[0].name == "счёт.pdf"
    assert store.chats[str(BIG_CHAT_ID)]["status"] == "WAITING_FOR_CUSTOMER"
    got = await connector.download(ChatRef(str(BIG_CHAT_ID)), echoed[1].attachments[0])
    assert got.content == b"%PDF-1.7 demo" and got.content_type == "application/pdf"
    assert store.view() == sim.truth()



async def test_seeded_attachment_downloads_with_its_size() -> None:
    _, _, _, connector = make()
    pages = [p async for p in connector.poll("chats", None, {})]
    message = next(m for p in pages for m in p.messages if m.attachments)
    attachment = message.attachments[0]
    got = await connector.download(ChatRef(message.chat_external_id), attachment)
    assert got.content is not None and len(got.content) == attachment.size


async def test_sim_refuses_finished_chats_and_bad_text() -> None:
    _, sim, _, connector = make()
    finished = next(c for c in sim.chats.values() if c.status == "FINISHED")
    before = len(finished.messages)
    # status unknown to the client: the sim itself must refuse, in the envelope
    with pytest.raises(Rejected, match="finished"):
        await connector.send(ChatRef(str(finished.id)), "Здравствуйте")
    with pytest.raises(Rejected, match="Can't find chat"):
        await connector.send(ChatRef("1"), "Здравствуйте")
    assert len(finished.messages) == before


async def test_bad_token_and_rate_limit() -> None:
    _, _, sandbox, bad = make(token=BAD_TOKEN)
    with pytest.raises(AuthError, match="Api-Key token is invalid"):
        await bad.test()
    _, _, sandbox, connector = make()
    sandbox.inject(rate_limit_fault("/chats", seconds=5))
    with pytest.raises(RateLimited) as info:
        [p async for p in connector.poll("chats", None, {})]
    assert 1 <= info.value.retry_after <= 6


async def test_build_sandbox_mounts_yandex_with_page_size() -> None:
    pytest.importorskip("chatdesk.sandbox.wildberries")
    from chatdesk.sandbox import build_sandbox

    sandbox = build_sandbox(marketplaces=("yandex",), page_size=3)
    sim = sandbox.sims["ym"]
    assert isinstance(sim, YandexSim) and sim.page_size == 3
