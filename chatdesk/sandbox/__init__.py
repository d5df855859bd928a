"""A simulated Wildberries, Ozon and Yandex Market speaking their official wire formats.

``build_sandbox()`` gives one :class:`Sandbox` with all three mounted (``/wb``, ``/ozon``,
``/ym``), seeded with realistic Russian conversations; use ``.transport()`` in-process or
``.serve()`` for a loopback HTTP server (``chatdesk sandbox serve``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

from chatdesk.marketplaces import MARKETPLACES
from chatdesk.sandbox.core import Fault, MarketplaceSim, Sandbox, SimRequest, SimResponse
from chatdesk.sandbox.seed import conversations

# Quirks each sim serves on demand (``POST /_sandbox/quirk/<prefix>`` {"name": ..., params}):
# answers the specs allow that the seeded data never shows (issue 11). Surrogates in buyer text
# need no quirk: ``POST /_sandbox/buyer/<prefix>`` with such a text is served as the JSON escape.
QUIRKS = {
    "wb": ("timestamp", "missing_optional", "cursor", "sign_rotation", "retry_hint"),
    "ozon": ("subscription_403", "retry_hint"),
    "ym": ("same_second", "customer_name", "parallel_420", "retry_hint"),
}
PREFIXES = {m.id: m.sandbox_prefix for m in MARKETPLACES.values()}  # a view of chatdesk.marketplaces
SANDBOX_TOKEN = "sandbox-token"


def _sim_classes() -> dict[str, type[MarketplaceSim]]:
    from chatdesk.sandbox.ozon import OzonSim
    from chatdesk.sandbox.wildberries import WildberriesSim
    from chatdesk.sandbox.yandex import YandexSim

    return {"wildberries": WildberriesSim, "ozon": OzonSim, "yandex": YandexSim}


def build_sandbox(
    *,
    seed: int = 7,
    chats: int = 12,
    marketplaces: tuple[str, ...] | None = None,
    now: Callable[[], datetime] | None = None,
    **options: object,
) -> Sandbox:
    """A sandbox with ``chats`` seeded conversations per marketplace. ``options`` go to each
    sim (e.g. ``page_size`` for small pages in pagination tests)."""
    clock = now or (lambda: datetime.now(UTC))
    sims: list[MarketplaceSim] = []
    for i, (name, cls) in enumerate(_sim_classes().items()):
        if marketplaces is not None and name not in marketplaces:
            continue
        rng = random.Random(seed * 1000 + i)
        sim = cls(rng, clock, **options)  # type: ignore[call-arg]
        sim.seed(conversations(rng, chats, clock()))
        sims.append(sim)
    return Sandbox(sims, rng=random.Random(seed))


__all__ = ["PREFIXES", "QUIRKS", "SANDBOX_TOKEN", "Fault", "Sandbox", "SimRequest", "SimResponse", "build_sandbox"]
