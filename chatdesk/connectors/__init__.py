"""Marketplace connectors, one module each; :func:`connector_class` maps a marketplace name
to its class without importing the others."""

from __future__ import annotations

import importlib

from chatdesk.connectors.base import Connector

MARKETPLACES: dict[str, tuple[str, str]] = {
    "wildberries": ("chatdesk.connectors.wildberries", "WildberriesConnector"),
    "ozon": ("chatdesk.connectors.ozon", "OzonConnector"),
    "yandex": ("chatdesk.connectors.yandex", "YandexConnector"),
}
LABELS = {"wildberries": "WB", "ozon": "Ozon", "yandex": "YM"}
# Account settings each marketplace needs besides the secret (CLI flag names).
REQUIRED_SETTINGS = {"wildberries": (), "ozon": ("client_id",), "yandex": ("business_id",)}


def connector_class(marketplace: str) -> type[Connector]:
    from chatdesk.errors import UsageError

    try:
        module_name, cls = MARKETPLACES[marketplace]
    except KeyError:
        raise UsageError(f"unknown marketplace {marketplace!r}; choose one of: {', '.join(MARKETPLACES)}") from None
    return getattr(importlib.import_module(module_name), cls)
