"""Marketplace connectors, one module each; :func:`connector_class` maps a marketplace name
to its class without importing the others.

``MARKETPLACES``, ``LABELS`` and ``REQUIRED_SETTINGS`` are views of :mod:`chatdesk.marketplaces`
kept for the code that imports them from here.
"""

from __future__ import annotations

import importlib

from chatdesk import marketplaces
from chatdesk.connectors.base import Connector

MARKETPLACES: dict[str, tuple[str, str]] = {
    m.id: (m.connector.partition(":")[0], m.connector.partition(":")[2]) for m in marketplaces.MARKETPLACES.values()
}
LABELS = {m.id: m.label for m in marketplaces.MARKETPLACES.values()}
# Account settings each marketplace needs besides the secret (CLI flag names).
REQUIRED_SETTINGS = {m.id: m.setting_keys for m in marketplaces.MARKETPLACES.values()}


def connector_class(marketplace: str) -> type[Connector]:
    """The connector class of ``marketplace``; :class:`~chatdesk.errors.UsageError` if unknown."""
    from chatdesk.errors import UsageError

    try:
        row = marketplaces.get(marketplace)
    except marketplaces.UnknownMarketplace as exc:
        raise UsageError(str(exc)) from None
    module_name, _, cls = row.connector.partition(":")
    found: type[Connector] = getattr(importlib.import_module(module_name), cls)
    return found
