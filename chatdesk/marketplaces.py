"""One frozen row per marketplace: the single source of names, badges, account settings,
send limits, reply windows and request budgets.

Everything else reads this table: the rule check (:mod:`chatdesk.rules`), every connector's
``limits`` and rate budgets, the CLI and TUI labels, the chat list's badges, the sandbox's
URL prefixes and the accounts screen. Nothing here does I/O or imports HTTP or Textual code,
so the rule check and the inbox can read limits without loading a connector.

Numbers come from the official specs in ``../shared/specs`` (tags as in
``reference/marketplace-apis.md``: [WB-26-07], [OZ-26-07], [YM-spec]). Where a spec states no
limit, the row says so and the number is chatdesk's own bound, named as such; the README's
"Marketplaces" table is checked against these rows by ``tests/test_marketplaces.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from chatdesk.model import Limits
from chatdesk.ratelimit import Budget

MiB = 1024 * 1024


@dataclass(frozen=True)
class Setting:
    """An account setting the marketplace needs besides the secret.

    ``key`` is the key in ``accounts.settings`` and the CLI flag (``--client-id``);
    ``label`` is what a form field is called.
    """

    key: str
    label: str

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


@dataclass(frozen=True)
class Marketplace:
    """One marketplace as chatdesk knows it.

    - ``id``: the stored name (``accounts.marketplace``), e.g. ``"wildberries"``.
    - ``badge``: two letters for the chat list (``WB``/``OZ``/``YM``).
    - ``label``: the short name used in sentences and tables (``WB``/``Ozon``/``YM``).
    - ``name``: the full name (``Wildberries``/``Ozon``/``Yandex Market``).
    - ``settings``: required account settings besides the secret.
    - ``sandbox_prefix``: the path prefix of its simulator in ``chatdesk sandbox``.
    - ``connector``: ``"module:Class"`` of its connector, imported only when needed.
    - ``limits``: hard send limits per chat kind, checked before anything is queued.
    - ``reply_window``: how long after the buyer's last message the seller may still write
      (``None``: no documented window).
    - ``answer_edits``: how long a published answer to a question can still be replaced, and
      how many times (``None``: answers cannot be edited or there are no questions).
    - ``budgets``: client-side request budgets per limiter key (at or under the published
      limits), and ``published_rates`` the marketplace's own figures in words.
    - ``closed_statuses``: chat statuses in which new seller messages are refused.
    - ``own_domains``: links to these keep the buyer on the platform (not flagged).
    - ``sources``: per chat kind, the spec section its limits come from (shown in the README).
    """

    id: str
    badge: str
    label: str
    name: str
    sandbox_prefix: str
    connector: str
    limits: Mapping[str, Limits]  # by chat kind (model.Kind)
    settings: tuple[Setting, ...] = ()
    reply_window: timedelta | None = None
    answer_edits: tuple[timedelta, int] | None = None
    budgets: Mapping[str, Budget] = field(default_factory=dict)
    published_rates: str = ""
    closed_statuses: frozenset[str] = frozenset()
    own_domains: tuple[str, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)  # by kind: where the limits come from

    def limits_for(self, kind: str = "chat") -> Limits:
        """The limits of ``kind``; a kind this marketplace does not have gets its chat limits."""
        return self.limits.get(kind) or self.limits["chat"]

    @property
    def setting_keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.settings)


# ----------------------------------------------------------------------------- Wildberries

# [WB-26-07] POST /api/v1/seller/message: message maxLength 1000; file JPEG, PDF or PNG, at most
# 5 MB each and 30 MB together; a message may carry files only.
_WB_CHAT = Limits(
    max_text=1000,
    min_text=0,
    file_types=frozenset({"image/jpeg", "image/png", "application/pdf"}),
    max_file_size=5 * MiB,
    max_total_size=30 * MiB,
)
# [WB-26-07] PATCH /api/v1/questions: answer.text has no maxLength in the spec (nor in the
# 2026-03 and 2025-12 snapshots). 5000 characters is chatdesk's own bound, not WB's rule; the
# body is JSON, so answers carry no files.
_WB_QUESTION = Limits(max_text=5000, file_types=frozenset(), max_files=0)
# [WB-26-07] rate-limit tables: buyer chat 10 requests / 10 s, burst 10 (personal, service and
# "basic with secret" tokens); every "Вопросы и отзывы" method shares 3 requests / 1 s, burst 6.
_WB_CHAT_BUDGET = Budget(limit=10, period=10.0, burst=10)
_WB_QUESTIONS_BUDGET = Budget(limit=3, period=1.0, burst=6)

WILDBERRIES = Marketplace(
    id="wildberries",
    badge="WB",
    label="WB",
    name="Wildberries",
    sandbox_prefix="wb",
    connector="chatdesk.connectors.wildberries:WildberriesConnector",
    limits=MappingProxyType({"chat": _WB_CHAT, "question": _WB_QUESTION}),
    # [WB-26-07] PATCH /api/v1/questions: "Отредактировать ответ на вопрос можно 1 раз в течение
    # 60 дней после отправки ответа".
    answer_edits=(timedelta(days=60), 1),
    budgets=MappingProxyType(
        {
            "wb.chats": _WB_CHAT_BUDGET,
            "wb.events": _WB_CHAT_BUDGET,
            "wb.message": _WB_CHAT_BUDGET,
            "wb.download": _WB_CHAT_BUDGET,
            "wb.questions": _WB_QUESTIONS_BUDGET,
        }
    ),
    published_rates="chat 10 req/10 s, burst 10; questions 3 req/s, burst 6 (a Базовый token: far less)",
    own_domains=("wildberries.ru", "wb.ru", "wildberries.by", "wildberries.kz", "wildberries.am"),
    sources=MappingProxyType(
        {
            "chat": "[WB-26-07] POST /api/v1/seller/message",
            "question": "[WB-26-07] PATCH /api/v1/questions states no length; 5000 is chatdesk's cap",
        }
    ),
)

# ----------------------------------------------------------------------------- Ozon

# [OZ-26-07] /v1/chat/send/message: text "от 1 до 1000 символов". /v1/chat/send/file takes one
# file per request (chat_id, base64_content, name) and states no type or size limit; chatdesk
# accepts what a buyer chat shows inline (JPEG, PNG, GIF, WebP) plus PDF, at most 10 MB,
# because the whole file travels base64-encoded inside one JSON body. Text and files are
# separate methods.
_OZON_CHAT = Limits(
    max_text=1000,
    min_text=1,
    file_types=frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"}),
    max_file_size=10 * MiB,
    max_files=1,
    text_with_files=False,
    files_per_request=1,  # /v1/chat/send/file takes one file and no text
)

OZON = Marketplace(
    id="ozon",
    badge="OZ",
    label="Ozon",
    name="Ozon",
    sandbox_prefix="ozon",
    connector="chatdesk.connectors.ozon:OzonConnector",
    limits=MappingProxyType({"chat": _OZON_CHAT}),
    settings=(Setting("client_id", "Ozon Client-Id"),),
    # [OZ-26-07] /v1/chat/send/message and /send/file: FBO within 48 h of the buyer's last
    # message; FBS/rFBS also until 72 h after delivery, then again only within 48 h.
    reply_window=timedelta(hours=48),
    # [OZ-26-07] "Process" tag: at most 50 requests per second per Client-Id across all
    # methods; chatdesk keeps 40/s, burst 10, to stay clear of it.
    budgets=MappingProxyType({"ozon": Budget(limit=40, period=1.0, burst=10)}),
    published_rates="50 req/s per Client-Id across all methods",
    own_domains=("ozon.ru", "ozon.by", "ozon.kz"),
    sources=MappingProxyType(
        {
            "chat": "[OZ-26-07] /v1/chat/send/message; /v1/chat/send/file states no type or size, "
            "types and 10 MB are chatdesk's cap"
        }
    ),
)

# ----------------------------------------------------------------------------- Yandex Market

# [YM-spec] sendMessageToChat: message minLength 1, maxLength 4096. sendFileToChat: one
# multipart file, "Максимальный размер файла — 5 Мбайт", no type list. Text and file are
# separate methods.
# sendFileToChat takes one file and no text.
_YM_CHAT = Limits(max_text=4096, max_file_size=5 * MiB, text_with_files=False, files_per_request=1)

YANDEX = Marketplace(
    id="yandex",
    badge="YM",
    label="YM",
    name="Yandex Market",
    sandbox_prefix="ym",
    connector="chatdesk.connectors.yandex:YandexConnector",
    limits=MappingProxyType({"chat": _YM_CHAT}),
    settings=(Setting("business_id", "Yandex business id"),),
    # [YM-spec] x-resource-limit-config, per method per hour. Bursts keep a first sync quick
    # without letting a loop drain an hour's budget in seconds.
    budgets=MappingProxyType(
        {
            "getChats": Budget(5000, 3600, burst=50),
            "getChatHistory": Budget(10_000, 3600, burst=100),
            "getChat": Budget(1000, 3600, burst=10),
            "sendMessageToChat": Budget(1000, 3600, burst=10),
            "sendFileToChat": Budget(1000, 3600, burst=10),
        }
    ),
    published_rates="getChats 5000/h, getChatHistory 10000/h, getChat and sending 1000/h each",
    # [YM-spec] ChatStatusType: a FINISHED chat takes no new messages.
    closed_statuses=frozenset({"FINISHED"}),
    own_domains=("market.yandex.ru", "market.yandex.by", "market.yandex.kz"),
    sources=MappingProxyType({"chat": "[YM-spec] sendMessageToChat, sendFileToChat"}),
)

MARKETPLACES: Mapping[str, Marketplace] = MappingProxyType({m.id: m for m in (WILDBERRIES, OZON, YANDEX)})


class UnknownMarketplace(ValueError):
    """A marketplace id that is not a row of :data:`MARKETPLACES`."""


def get(marketplace: str) -> Marketplace:
    """The row of ``marketplace``; raises :class:`UnknownMarketplace` naming the valid ids."""
    try:
        return MARKETPLACES[marketplace]
    except KeyError:
        raise UnknownMarketplace(
            f"unknown marketplace {marketplace!r}; choose one of: {', '.join(MARKETPLACES)}"
        ) from None


def limits_for(marketplace: str, kind: str = "chat") -> Limits:
    """Hard send limits of ``kind`` on ``marketplace`` (unknown kinds get the chat limits)."""
    return get(marketplace).limits_for(kind)


def label(marketplace: str) -> str:
    """The short name (``WB``/``Ozon``/``YM``), or the id itself for an unknown marketplace."""
    row = MARKETPLACES.get(marketplace)
    return row.label if row else marketplace


def badge(marketplace: str) -> str:
    """The two-letter badge, or the id's first two letters for an unknown marketplace."""
    row = MARKETPLACES.get(marketplace)
    return row.badge if row else marketplace[:2].upper()


def full_name(marketplace: str) -> str:
    row = MARKETPLACES.get(marketplace)
    return row.name if row else marketplace
