"""Bad input gets one clear line, a non-zero exit, and nothing corrupted.

The real CLI in subprocesses for config, flags, marketplaces, databases (unreadable,
foreign, newer schema, a directory), data dirs, base URLs and disk-full; in-process for
attachment names and upload checks; and a hostile buyer message (OSC 52, CSI in C1 form, a
bidi override, Textual markup) through every CLI output path.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from chatdesk.config import Config
from chatdesk.errors import StoreError, UsageError
from chatdesk.store import views
from chatdesk.store.db import Database
from chatdesk.usecases import accounts as actions
from chatdesk.usecases import replies as sending
from tests.e2e.conftest import TOKEN, Cli, start_sandbox
from tests.reliability import cli_env, integrity_ok, make_world

HOSTILE = "Оплата\x1b]52;c;ZXZpbA==\x07 прошла\x9b2J \u202eтекст\u202c [@click=app.quit]жми[/] \x1b[31mкрасный"
UNSAFE = ("\x1b", "\x9b", "\x9d", "\u202e", "\u202c", "\x07")


def one_line_error(proc: subprocess.CompletedProcess[str], code: int | None = None) -> str:
    assert proc.returncode != 0, proc.stdout
    if code is not None:
        assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(cli_env(tmp_path / "home"))


def test_config_flags_and_marketplace(cli: Cli, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text("poll_interval = [oops\n")
    assert "not valid TOML" in one_line_error(cli.run("sync", "--once", check=False), 2)
    (home / "config.toml").write_text('poll_interval = "often"\n')
    assert "poll_interval must be a non-negative number" in one_line_error(cli.run("sync", "--once", check=False), 2)
    (home / "config.toml").write_text('timezone = "Mars/Olympus"\n')
    assert "timezone" in one_line_error(cli.run("sync", "--once", check=False), 2)
    (home / "config.toml").unlink()
    assert "amazon" in one_line_error(cli.run("account", "add", "amazon", "x", input="t\n", check=False), 2)
    one_line_error(cli.run("chats", "--bogus", check=False), 2)
    one_line_error(cli.run("sync", "--once", "--account", "nobody", check=False), 2)
    one_line_error(cli.run("messages", "../1", check=False), 2)
    one_line_error(cli.run("followup", "add", "1", "x", "--in", "soonish", check=False), 2)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://example.com/wb", "--allow-http"),
        ("ftp://127.0.0.1/wb", "must be http(s)"),
        ("file:///etc/passwd", "must be http(s)"),
        ("javascript:alert(1)", "must be http(s)"),
        ("http://10.0.0.5:8080", "--allow-http"),
    ],
)
def test_base_url_is_checked(cli: Cli, url: str, words: str) -> None:
    proc = cli.run("account", "add", "wildberries", "x", "--base-url", url, input="tok\n", check=False)
    assert words in one_line_error(proc, 2)
    assert json.loads(cli.run("account", "list", "--json").stdout) == []  # nothing half-added


def test_base_url_allowed_forms(cli: Cli) -> None:
    for name, extra in (
        ("a", ["--base-url", "https://proxy.example/wb"]),
        ("b", ["--base-url", "http://127.0.0.1:9/wb"]),
        ("c", ["--base-url", "http://[::1]:9/wb"]),
        ("d", ["--base-url", "http://10.0.0.5:8080", "--allow-http"]),
    ):
        cli.run("account", "add", "wildberries", name, *extra, input="tok\n")
    assert len(json.loads(cli.run("account", "list", "--json").stdout)) == 4


def test_databases_that_cannot_be_used(cli: Cli, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices VALUES (1, 99.5)")
    conn.commit()
    conn.close()
    before = digest(foreign)
    assert "not a chatdesk database" in one_line_error(cli.run("--db", str(foreign), "chats", check=False))
    assert digest(foreign) == before

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is a spreadsheet, honest\x00" * 200)
    before = digest(garbage)
    assert "not an SQLite file" in one_line_error(cli.run("--db", str(garbage), "chats", check=False))
    assert digest(garbage) == before

    newer = tmp_path / "newer.db"
    Database(f"sqlite:///{newer}").close()
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    before = digest(newer)
    assert "newer chatdesk" in one_line_error(cli.run("--db", str(newer), "chats", check=False))
    assert digest(newer) == before

    folder = tmp_path / "adir.db"
    folder.mkdir()
    one_line_error(cli.run("--db", str(folder), "chats", check=False))

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    line = one_line_error(cli.run("--home", str(blocker / "sub"), "chats", check=False))
    assert "cannot create data directory" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file; permissions cannot be tested")
def test_unreadable_db_and_unwritable_home(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    Database(f"sqlite:///{db}").close()
    db.chmod(0)
    try:
        one_line_error(cli.run("--db", str(db), "chats", check=False))
    finally:
        db.chmod(0o600)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        one_line_error(cli.run("--home", str(ro / "home"), "chats", check=False))
    finally:
        ro.chmod(0o700)


DISK_FULL_HOOK = """
import sqlite3, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
limit = int(sys.argv.pop(1))
@event.listens_for(Engine, "connect")
def _tiny_disk(conn, _rec):
    conn.execute(f"PRAGMA max_page_count = {limit}")
from chatdesk.cli import main
sys.argv[0] = "chatdesk"
main()
"""


@pytest.mark.timeout(90)
def test_disk_full_is_one_line_and_the_store_stays_intact(cli: Cli, tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path / "sandbox.log", "--chats", "6")
    try:
        home = tmp_path / "home"
        cli.run("account", "add", "wildberries", "wb", "--base-url", sandbox.url("wb"), input=TOKEN + "\n")
        cli.run("sync", "--once", "--account", "wb")
        db_path = home / "chatdesk.db"
        conn = sqlite3.connect(db_path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.close()
        before = json.loads(cli.run("chats", "--json").stdout)
        for _ in range(30):
            sandbox.post("buyer/wb", {"text": "Длинный вопрос " * 200})

        def full(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-c", DISK_FULL_HOOK, str(pages), *args],
                capture_output=True,
                text=True,
                env=cli.env,
                timeout=60,
            )

        synced = full("sync", "--once")
        assert synced.returncode == 1 and "disk is full" in synced.stderr, synced.stderr
        assert len(synced.stderr.strip().splitlines()) == 1 and "Traceback" not in synced.stderr
        assert integrity_ok(db_path)
        assert json.loads(cli.run("chats", "--json").stdout) == before  # nothing half-written
        # space again: everything arrives
        assert "wb: ok" in cli.run("sync", "--once").stdout
    finally:
        sandbox.proc.terminate()
        sandbox.proc.wait(10)


def test_disk_full_in_process_raises_store_error_and_rolls_back(tmp_path: Path) -> None:
    from sqlalchemy import event

    from chatdesk.model import ChatInfo, MessageInfo, Page
    from chatdesk.store import accounts, ingest
    from chatdesk.store.db import utcnow

    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    acc = accounts.add_account(db, "a", "wildberries")
    ingest.apply_page(db, acc.id, "chats", Page(chats=(ChatInfo("c"),), cursor="1"))
    db.close()
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.read() as s:
        pages = s.connection().exec_driver_sql("PRAGMA page_count").scalar()
    event.listen(db.engine, "connect", lambda c, _r: c.execute(f"PRAGMA max_page_count = {pages}"))
    db.engine.dispose()
    big = tuple(MessageInfo("c", f"m{i}", "buyer", "x" * 4000, utcnow()) for i in range(50))
    with pytest.raises(StoreError, match="disk is full"):
        ingest.apply_page(db, acc.id, "chats", Page(messages=big, cursor="2"))
    assert ingest.get_cursor(db, acc.id, "chats") == "1"  # the cursor did not move without its data
    assert ingest.message_count(db) == 0
    db.close()
    assert integrity_ok(tmp_path / "x.db")


# ----------------------------------------------------------------------------- attachments


def test_attachment_names_are_sanitized_and_never_overwrite(tmp_path: Path) -> None:
    world = make_world(tmp_path / "w", "wildberries", page_size=None)
    transport = world.sandbox.transport()
    factory = lambda _a: httpx.AsyncClient(transport=transport)  # noqa: E731
    import asyncio

    eng = world.engine()
    asyncio.run(eng.poll_account(world.account_id))
    asyncio.run(eng.aclose())
    ready = set(world.sim.files) - world.sim.pending_download_ids - world.sim.rejected_download_ids
    found = [
        (c, a)
        for c in views.list_chats(world.db)
        for m in views.list_messages(world.db, c.id)
        for a in m.attachments
        if a.download_id in ready
    ]
    assert found, "the seed has attachments"
    chat, att = found[0]
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "passwd").write_text("keep me")
    saved = []
    for name in ("../../etc/passwd", "/etc/passwd", "..\\..\\boot.ini", "\x1b]0;x\x07.bashrc", "", "..", "passwd"):
        path = actions.download_attachment(world.db, world.secrets, chat.id, replace(att, name=name), folder, factory)
        saved.append(path)
        assert path.parent == folder and path.resolve().is_relative_to(folder.resolve())
        assert not path.name.startswith(".") and "\x1b" not in path.name
        assert path.stat().st_mode & 0o777 == 0o600  # never executable
    assert (folder / "passwd").read_text() == "keep me"
    assert len(set(saved)) == len(saved)  # no file overwritten another
    world.db.close()


def test_upload_size_and_type_are_checked_before_any_request(tmp_path: Path) -> None:
    world = make_world(tmp_path / "w", "wildberries", page_size=None)
    import asyncio

    eng = world.engine()
    asyncio.run(eng.poll_account(world.account_id))
    asyncio.run(eng.aclose())
    chat = next(c for c in views.list_chats(world.db) if c.kind == "chat")
    exe = tmp_path / "setup.exe"
    exe.write_bytes(b"MZ" + b"\0" * 100)
    big = tmp_path / "photo.jpg"
    big.write_bytes(b"\xff\xd8\xff" + b"\0" * (6 * 1024 * 1024))
    world.sandbox.reset_counts()
    transport = world.sandbox.transport()
    for files, words in (([exe], "setup.exe"), ([big], "photo.jpg"), ([tmp_path / "missing.png"], "cannot attach")):
        with pytest.raises(UsageError, match=words):
            sending.send_now(
                world.db,
                world.secrets,
                Config(),
                chat.id,
                "Фото во вложении",
                files,
                client_factory=lambda _a: httpx.AsyncClient(transport=transport),
            )
    assert world.sandbox.request_count() == 0
    assert [m for m in views.list_messages(world.db, chat.id) if m.author == "seller" and m.external_id is None] == []
    world.db.close()


# ----------------------------------------------------------------------------- hostile text in CLI output


@pytest.mark.timeout(90)
def test_hostile_buyer_text_is_inert_in_every_cli_output(cli: Cli, tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path / "sandbox.log", "--chats", "3")
    try:
        cli.run("account", "add", "wildberries", "wb", "--base-url", sandbox.url("wb"), input=TOKEN + "\n")
        cli.run("sync", "--once")
        chat_ext = sandbox.post("buyer/wb", {"text": HOSTILE})["chat"]  # type: ignore[index]
        cli.run("sync", "--once")
        chats = json.loads(cli.run("chats", "--json").stdout)
        chat = next(c for c in chats if c["external_id"] == chat_ext)
        outputs = {
            "chats": cli.run("chats").stdout,
            "chats --json": cli.run("chats", "--json").stdout,
            "messages": cli.run("messages", str(chat["id"])).stdout,
            "messages --json": cli.run("messages", str(chat["id"]), "--json").stdout,
            "search": cli.run("search", "прошла").stdout,
            "search --json": cli.run("search", "прошла", "--json").stdout,
            "followup list": cli.run("followup", "list").stdout,
        }
    finally:
        sandbox.proc.terminate()
        sandbox.proc.wait(10)
    for name, out in outputs.items():
        bad = [c for c in UNSAFE if c in out]
        assert not bad, f"{name} printed raw control characters {bad!r}"
    assert "[@click=app.quit]" in outputs["messages"]  # shown literally, never interpreted as markup
    # JSON keeps the exact text (escaped), so scripts lose nothing
    msgs = json.loads(outputs["messages --json"])
    assert HOSTILE in [m["text"] for m in msgs]
    assert json.loads(outputs["chats --json"]) == chats
