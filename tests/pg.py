"""A throwaway PostgreSQL server for the test run: ``initdb`` + ``pg_ctl`` into a temporary
folder, listening on a loopback port only, stopped (and its folder deleted) at the end.

Used by ``tests/conftest.py``: the server starts once per session (per xdist worker), the first
time a test asks for the PostgreSQL half of a parametrized store; each such test gets a database
of its own, dropped afterwards. The store's schema is migrated once per session into a template
database and each test's database is a copy of it (``CREATE DATABASE … TEMPLATE``, ~0.1 s instead of
~1 s for an empty database plus the Alembic run); ``new_database(empty=True)`` gives a bare one.
Outside CI, without PostgreSQL binaries, the PostgreSQL half is skipped with the reason; with
``CI=true`` it must run, so it fails instead.

initdb refuses to run as root: as root the cluster is created and run by the ``postgres`` OS
user (made by the Debian package) through ``runuser``.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

USER = "chatdesk"


def find_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: $PG_BINDIR, the PATH, or the Debian layout
    (/usr/lib/postgresql/<major>/bin, newest first)."""
    env = os.environ.get("PG_BINDIR")
    candidates: list[Path] = [Path(env)] if env else []
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for found in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True):
        candidates.append(Path(found))
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    return None


def _major(path: str) -> int:
    part = Path(path).parent.name
    return int(part) if part.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One running cluster. ``new_database()`` hands out a fresh database URL."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="chatdesk-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._counter = itertools.count(1)
        self._template: str | None = None  # a database holding the migrated schema, see new_database
        self._template_lock = threading.Lock()
        self._prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-prefetch")
        self._ready: list[Future[str]] = []  # the next test's database, being copied
        self._run_as: str | None = None
        if os.geteuid() == 0:
            self._run_as = "postgres"
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no 'postgres' OS user to run initdb as") from None
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.log = self.root / "server.log"

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        return ["runuser", "-u", self._run_as, "--", *cmd] if self._run_as else cmd

    def start(self, template: Path | None = None) -> None:
        """initdb a new cluster, or copy ``template`` (a stopped cluster's data folder made by
        :meth:`save`: the bench keeps a loaded 1M-message store that way), then start it."""
        if template is None:
            subprocess.run(
                self._cmd("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"),
                check=True,
                capture_output=True,
                timeout=120,
            )
        else:  # cp -a keeps the owner (postgres when run as root) and the folder's 0700
            subprocess.run(["cp", "-a", str(template), str(self.data)], check=True, capture_output=True, timeout=600)
        self._launch()
        self._watchdog()

    def _launch(self) -> None:
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "-t", "60", "start"),
            check=True,
            capture_output=True,
            timeout=90,
        )

    def save(self, dest: Path) -> None:
        """Stop cleanly (a checkpoint: the copy needs no recovery), copy the data folder to
        ``dest`` (replaced if it exists) and start again on the same port."""
        subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"),
            check=True,
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(dest, ignore_errors=True)
        subprocess.run(["cp", "-a", str(self.data), str(dest)], check=True, capture_output=True, timeout=600)
        self._launch()

    def _watchdog(self) -> None:
        """A test run killed from outside (a CI timeout, SIGKILL) never reaches :meth:`stop`:
        a small process outlives it, notices and stops the server and deletes its folder."""
        code = (
            "import os, shutil, subprocess, sys, time\n"
            "parent, cmd, root = int(sys.argv[1]), sys.argv[2:-1], sys.argv[-1]\n"
            "while os.path.isdir(root):\n"
            "    try:\n"
            "        os.kill(parent, 0)\n"
            "    except ProcessLookupError:\n"
            "        subprocess.run(cmd, capture_output=True, timeout=60)\n"
            "        shutil.rmtree(root, ignore_errors=True)\n"
            "        break\n"
            "    except OSError:\n"
            "        pass\n"
            "    time.sleep(1)\n"
        )
        stop = self._cmd("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        subprocess.Popen(
            [sys.executable, "-c", code, str(os.getpid()), *stop, str(self.root)],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def admin_url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres", autocommit=True) as c:
            c.execute(sql)

    def new_database(self, *, empty: bool = False) -> str:
        """A fresh database's URL: a copy of the migrated template (the schema chatdesk's own
        migrations made, exactly what opening an empty database would make), or with
        ``empty=True`` a bare one from ``template0``.

        The next copy is made on a background thread while the test runs (most tests spend
        their time waiting on a UI or a timer), so a test rarely waits for ``CREATE DATABASE``."""
        if empty:
            name = self._next_name()
            self._admin(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
            return self.admin_url(name)
        ready = self._ready.pop() if self._ready else None
        name = ready.result() if ready is not None else self._copy_template()
        self._ready.append(self._prefetch.submit(self._copy_template))
        return self.admin_url(name)

    def _next_name(self) -> str:
        return f"t{os.getpid()}_{next(self._counter)}"

    def _copy_template(self) -> str:
        name = self._next_name()
        self._admin(f"CREATE DATABASE {name} TEMPLATE {self._migrated_template()}")
        return name

    def _migrated_template(self) -> str:
        """Migrate once: a database that no one connects to afterwards (a template must have no
        sessions while it is copied), made by opening it with today's code."""
        with self._template_lock:
            if self._template is None:
                from chatdesk.store.db import Database

                name = f"template_{os.getpid()}"
                self._admin(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
                Database(self.admin_url(name)).close()
                self._template = name
            return self._template

    def drop_database(self, url: str) -> None:
        """Drop a test's database on the background thread (queued before the next copy, so
        they never pile up); a test's teardown does not wait for it."""
        name = url.rsplit("/", 1)[1]
        self._prefetch.submit(self._drop, name)

    def _drop(self, name: str) -> None:
        with contextlib.suppress(Exception):
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        self._prefetch.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(Exception):
            subprocess.run(
                self._cmd("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def unavailable_reason() -> str | None:
    """Why the PostgreSQL half cannot run here, or None when it can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[pg]')"
    if find_bin_dir() is None:
        return "no PostgreSQL binaries (initdb, pg_ctl) on PATH or under /usr/lib/postgresql/*/bin"
    return None
