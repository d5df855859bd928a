"""Where chatdesk keeps its files, and making them private to the user.

Data dir: ``CHATDESK_HOME`` or ``--home``, else platformdirs' user data dir. The DB is
``<data dir>/chatdesk.db`` unless ``CHATDESK_DB``/``--db`` names a path or SQLAlchemy URL.
Config (``config.toml``) and templates live in the data dir too, so one directory is the
whole installation and can be kept in git (templates) or backed up.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from chatdesk.errors import StoreError

APP = "chatdesk"


def data_dir(home: str | os.PathLike[str] | None = None) -> Path:
    value = home or os.environ.get("CHATDESK_HOME")
    return Path(value).expanduser() if value else Path(platformdirs.user_data_dir(APP, appauthor=False))


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) or fail with one clear line if it cannot be written."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.name == "posix":
            os.chmod(path, 0o700)
    except OSError as exc:
        raise StoreError(f"cannot create data directory {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK):
        raise StoreError(f"data directory {path} is not writable")
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` if missing with mode 0600 (only its owner reads it: a log may name
    buyers and accounts) and tighten an existing one; returns ``path``. Raises OSError."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    if os.name == "posix":
        os.chmod(path, 0o600)
    return path


def db_url(home: str | os.PathLike[str] | None = None, db: str | None = None) -> str:
    """The SQLAlchemy URL of the store: an explicit URL, a path, or the default in the data dir."""
    value = db or os.environ.get("CHATDESK_DB")
    if value and "://" in value:
        return value
    if value:
        path = Path(value).expanduser().resolve()
        ensure_private_dir(path.parent) if not path.parent.exists() else None
        return f"sqlite:///{path}"
    directory = ensure_private_dir(data_dir(home))
    return f"sqlite:///{directory / 'chatdesk.db'}"


def config_file(home: str | os.PathLike[str] | None = None) -> Path:
    return Path(os.environ.get("CHATDESK_CONFIG") or data_dir(home) / "config.toml")


def templates_dir(home: str | os.PathLike[str] | None = None) -> Path:
    return data_dir(home) / "templates"


def downloads_dir(home: str | os.PathLike[str] | None = None) -> Path:
    return data_dir(home) / "downloads"
