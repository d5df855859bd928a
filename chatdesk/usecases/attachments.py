"""Files from buyers (issue 12 §5): bounded streamed downloads, names that fit the filesystem,
and opening a file only as what its bytes say it is.

- :func:`download_attachment` streams into the target file counting *decoded* bytes against a
  cap (the declared size plus a margin, else the marketplace's file limit), deletes the partial
  file on any failure, and never reports an empty or redirected answer as "saved".
- :func:`fit_name` / :func:`unique_path` keep a saved name within the filesystem's byte limit
  (UTF-8 bytes, not characters), keeping the extension and room for `` (n)``.
- :func:`prepare_to_open` / :func:`open_with_system` (the TUI's ``v``) open a file only with an
  extension that matches its verified content; anything else is renamed to ``.bin`` first and
  not handed to the system opener.

Blocking (one short event loop for HTTP): call from the CLI or a thread worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from pathlib import Path

from chatdesk.connectors import connector_class
from chatdesk.connectors.base import DEFAULT_DOWNLOAD_CAP, Attachment, Connector
from chatdesk.errors import ChatdeskError, UsageError
from chatdesk.sanitize import safe_filename
from chatdesk.secrets import SecretStore
from chatdesk.store.db import Database
from chatdesk.sync import ClientFactory

NAME_MAX = 255  # bytes: ext4, XFS, btrfs, APFS, NTFS (UTF-16 units) all allow at least this
ROOM = " (99999)"  # what unique_path may add
MAX_EXT_BYTES = 16
MARGIN = 64 * 1024  # bytes over a declared size we still accept (headers vs. reality)


def _name_max(folder: Path) -> int:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return max(32, min(NAME_MAX, os.pathconf(folder, "PC_NAME_MAX")))
    return NAME_MAX


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def fit_name(name: str, max_bytes: int = NAME_MAX, room: str = ROOM) -> str:
    """A safe file name whose UTF-8 form plus ``room`` fits ``max_bytes``; the extension is kept
    (up to ``MAX_EXT_BYTES``), the stem is shortened on a character boundary."""
    raw = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = raw.rpartition(".")
    ext = safe_filename(ext, default="") if dot else ""
    if not stem or not ext or len(ext.encode()) > MAX_EXT_BYTES or not ext.replace("_", "").isalnum():
        stem, ext = raw, ""
    stem = safe_filename(stem)
    suffix = f".{ext}" if ext else ""
    budget = max_bytes - len(room.encode()) - len(suffix.encode())
    stem = _cut(stem, max(1, budget)).rstrip() or "attachment"
    return stem + suffix


def unique_path(folder: Path, name: str) -> Path:
    """``folder/name`` or ``folder/stem (n).ext`` for the first free n; fits the byte limit."""
    name = fit_name(name, _name_max(folder))
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    candidate = folder / name
    n = 1
    while candidate.exists():
        candidate = folder / (f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})")
        n += 1
    return candidate


def download_cap(attachment: Attachment, connector: type[Connector]) -> int:
    """Bytes (decoded) a download may have: the declared size plus a margin (10 %, at least
    ``MARGIN``); without one, twice the marketplace's own per-file limit for chats (and at
    least 10 MiB); never over ``DEFAULT_DOWNLOAD_CAP``."""
    if attachment.size is not None and attachment.size >= 0:
        return min(DEFAULT_DOWNLOAD_CAP, attachment.size + max(MARGIN, attachment.size // 10))
    limits = connector.limits.get("chat")
    own = limits.max_file_size if limits is not None and limits.max_file_size else None
    return min(DEFAULT_DOWNLOAD_CAP, max(10 * 1024 * 1024, 2 * own) if own else DEFAULT_DOWNLOAD_CAP)


def download_attachment(
    db: Database,
    secrets: SecretStore,
    chat_id: int,
    attachment: Attachment,
    folder: Path,
    client_factory: ClientFactory | None = None,
) -> Path:
    """Save an attachment under ``folder`` (created 0700; the file 0600) with a sanitized,
    byte-bounded, non-clobbering name and return its path. Never executed or opened here.

    Raises :class:`ChatdeskError` when the file is not ready (WB moderation), too large
    (decoded bytes over :func:`download_cap`), empty, redirected off https, or refused; the
    partial file is deleted in every such case."""
    from chatdesk.usecases.accounts import _chat_ref, _with_connector

    account, ref = _chat_ref(db, chat_id)
    cap = download_cap(attachment, connector_class(account.marketplace))
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = unique_path(folder, attachment.name)
    try:
        with open(target, "xb") as fh:  # "x": never overwrite
            target.chmod(0o600)

            async def run(c: Connector):  # type: ignore[no-untyped-def]
                return await c.download(ref, attachment, fh, cap)

            result = asyncio.run(_with_connector(account, secrets, client_factory, run))
        if result.retry_after is not None:
            raise ChatdeskError(
                f"the file is still being checked by the marketplace; try again in {int(result.retry_after)} s"
            )
        size = result.size if result.size is not None else len(result.content or b"")
        if result.content is not None and result.size is None:  # a connector without streaming
            if len(result.content) > cap:
                raise ChatdeskError(f"the file is larger than its {cap}-byte limit; nothing was saved")
            target.write_bytes(result.content)
        if size == 0:
            raise ChatdeskError("the marketplace sent an empty file; nothing was saved")
        return target
    except BaseException:
        with contextlib.suppress(OSError):
            target.unlink()
        raise


# ----------------------------------------------------------------------------- opening

# (magic prefix, offset, content type, extensions that may carry it)
_SIGNATURES: tuple[tuple[bytes, int, str, tuple[str, ...]], ...] = (
    (b"%PDF-", 0, "application/pdf", ("pdf",)),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", ("png",)),
    (b"\xff\xd8\xff", 0, "image/jpeg", ("jpg", "jpeg")),
    (b"GIF87a", 0, "image/gif", ("gif",)),
    (b"GIF89a", 0, "image/gif", ("gif",)),
    (b"WEBP", 8, "image/webp", ("webp",)),
)


def sniff(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """The content type the file's bytes prove (and its usual extensions), or None."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    for magic, offset, ctype, exts in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic and (offset == 0 or head[:4] == b"RIFF"):
            return ctype, exts
    return None


def prepare_to_open(path: Path) -> tuple[Path, str | None]:
    """Make ``path`` safe to hand to the system opener, which picks an application by the
    extension: returns ``(path to open, verified content type)``. A file whose bytes are a
    known image or PDF gets the matching extension (renamed if it had another); anything else
    is renamed to ``.bin`` and the type is None (do not open it)."""
    found = sniff(path)
    ext = path.suffix.lower().lstrip(".")
    if found is not None and ext in found[1]:
        return path, found[0]
    new_ext = found[1][0] if found is not None else "bin"
    target = unique_path(path.parent, f"{path.stem}.{new_ext}")
    os.replace(path, target)
    return target, found[0] if found is not None else None


def open_with_system(path: Path) -> str:
    """The TUI's ``v``: open a saved file by its verified type; returns what to tell the user.
    Raises :class:`UsageError` when the content is not a type chatdesk opens."""
    target, ctype = prepare_to_open(path)
    if ctype is None:
        raise UsageError(f"saved as {target.name}: its content is not an image or PDF, so chatdesk does not open it")
    opener = shutil.which("xdg-open") or shutil.which("open")
    if opener is None:
        return f"saved to {target} (no system opener here)"
    subprocess.Popen(
        [opener, str(target)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return f"opened {target.name} ({ctype})"
