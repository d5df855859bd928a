"""End-to-end harness: the real ``chatdesk`` CLI in subprocesses against ``chatdesk sandbox
serve`` on loopback, with an encrypted file keyring in a temporary home."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

TOKEN = "e2e-token-7c1f9a"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Sandbox:
    base: str
    proc: subprocess.Popen[str]

    def url(self, prefix: str) -> str:
        return f"{self.base}/{prefix}"

    def get(self, path: str) -> object:
        with urllib.request.urlopen(f"{self.base}/_sandbox/{path}", timeout=10) as resp:
            return json.loads(resp.read())

    def post(self, path: str, payload: dict[str, object]) -> object:
        req = urllib.request.Request(
            f"{self.base}/_sandbox/{path}",
            data=json.dumps(payload).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())


@dataclass
class Cli:
    env: dict[str, str]

    def run(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "chatdesk", *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"chatdesk {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def json(self, *args: str) -> object:
        return json.loads(self.run(*args).stdout)


def start_sandbox(log: Path, *extra: str) -> Sandbox:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatdesk", "sandbox", "serve", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),  # a pipe nobody reads would block the server once full
        text=True,
    )
    assert proc.stdout is not None
    base = None
    for _ in range(10):
        line = proc.stdout.readline()
        m = re.search(r"control: (http://[\d.:]+)/_sandbox/", line)
        if m:
            base = m.group(1)
            break
    if base is None:
        proc.kill()
        raise AssertionError(f"sandbox did not start: {log.read_text()}")
    return Sandbox(base, proc)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    sb = start_sandbox(tmp_path / "sandbox.log", "--page-size", "3", "--chats", "5")
    yield sb
    sb.proc.terminate()
    sb.proc.wait(10)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATDESK_", "PYTHON_KEYRING"))}
    env.update(
        CHATDESK_HOME=str(tmp_path / "home"),
        PYTHON_KEYRING_BACKEND="tests.e2e.fake_keyring.TestFileKeyring",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return Cli(env)


@pytest.fixture
def pg_store(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database on the session's throwaway PostgreSQL (skipped without one)."""
    server = request.getfixturevalue("pg_server")
    url = server.new_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def pg_cli(cli: Cli, pg_store: str) -> Cli:
    """The CLI with ``CHATDESK_DB`` pointing at a PostgreSQL store."""
    return Cli({**cli.env, "CHATDESK_DB": pg_store})
