"""Validate chatdesk's requests and the sandbox's responses against the official OpenAPI specs
in ``../shared/specs`` (never copied into this repo).

In CI (``CI=true``) a missing specs folder is a failure; elsewhere the contract tests skip and
say why.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SPECS = Path(os.environ.get("CHATDESK_SPECS") or ROOT.parent / "shared" / "specs")

SPEC_FILES = {
    "wildberries": "wildberries/derived/chat+questions.resolved.2026-07-22.yaml",
    "ozon": "ozon/derived/chat.resolved.2026-07-12.yaml",
    "yandex": "yandex-market/derived/chats.resolved.2026-07-17.yaml",
}
# Official hosts each spec declares; the sandbox's prefixed URLs are mapped onto them.
HOSTS = {
    "wildberries": {
        "/api/v1/seller": "https://buyer-chat-api.wildberries.ru",
        "/api/v1/question": "https://feedbacks-api.wildberries.ru",
        "/api/v1/new-feedbacks-questions": "https://feedbacks-api.wildberries.ru",
    },
    "ozon": {"/": "https://api-seller.ozon.ru"},
    "yandex": {"/": "https://api.partner.market.yandex.ru"},
}


def require_specs() -> Path:
    if SPECS.is_dir():
        return SPECS
    if os.environ.get("CI") == "true":
        pytest.fail(f"official specs not found at {SPECS}: CI must have ../shared/specs")
    pytest.skip(f"official specs not found at {SPECS} (../shared is absent outside the project workspace)")


@functools.cache
def openapi(marketplace: str):  # type: ignore[no-untyped-def]
    """The spec as openapi-core objects. The derived files lack ``info.version`` (the
    validator insists on it) and WB answers some errors as ``application/problem+json``."""
    import json

    import yaml
    from openapi_core import Config, OpenAPI

    data = yaml.safe_load((require_specs() / SPEC_FILES[marketplace]).read_text(encoding="utf-8"))
    data.setdefault("info", {}).setdefault("version", "derived")
    # Ozon declares a protocol-relative server ("//api-seller.ozon.ru"); the API is HTTPS-only.
    for server in data.get("servers", []):
        if server.get("url", "").startswith("//"):
            server["url"] = "https:" + server["url"]
    config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
    return OpenAPI.from_dict(data, config=config)


def _host(marketplace: str, path: str) -> str:
    best = ""
    for prefix in HOSTS[marketplace]:
        if path.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return HOSTS[marketplace][best]


def official_path(url: httpx.URL, prefix: str | None) -> str:
    path = url.path
    if prefix and path.startswith(f"/{prefix}/"):
        path = path[len(prefix) + 1 :]
    return path


@dataclass
class _Params:
    query: dict[str, object]
    header: dict[str, str]
    cookie: dict[str, str] = field(default_factory=dict)
    path: dict[str, object] = field(default_factory=dict)

    def __getitem__(self, key: str) -> object:  # openapi-core reads parameters["query"]
        return getattr(self, key)


class SpecRequest:
    def __init__(self, marketplace: str, request: httpx.Request, prefix: str | None) -> None:
        self._req = request
        self._path = official_path(request.url, prefix)
        self.host_url = _host(marketplace, self._path)
        self.method = request.method.lower()
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        q = parse_qs(request.url.query.decode(), keep_blank_values=True)
        self.parameters = _Params(
            query=ImmutableMultiDict([(k, v) for k, vs in q.items() for v in vs]),  # type: ignore[arg-type]
            header=Headers(list(request.headers.items())),  # type: ignore[arg-type]
        )
        self.content_type = request.headers.get("content-type", "").lower()
        self.body = request.content or None

    @property
    def path(self) -> str:
        return self._path

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self._path


class SpecResponse:
    def __init__(self, response: httpx.Response) -> None:
        from werkzeug.datastructures import Headers

        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "application/json").lower()
        self.headers = Headers(list(response.headers.items()))
        self.data = response.content


def validate(marketplace: str, request: httpx.Request, response: httpx.Response | None, prefix: str | None) -> None:
    """Raise if the request (and the response, when given) break the official spec."""
    api = openapi(marketplace)
    req = SpecRequest(marketplace, request, prefix)
    api.validate_request(req)
    if response is not None:
        api.validate_response(req, SpecResponse(response))


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and keeps every (request, response) pair for validation."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: list[tuple[httpx.Request, httpx.Response]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.calls.append((request, response))
        return response
