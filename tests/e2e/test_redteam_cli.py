"""Red-team findings seen end to end through the real CLI against ``chatdesk sandbox serve``:
userinfo in base URLs (10), rate-limit hints at the calendar's edge (6), partial multi-part
sends (3), refused files settled by another file's echo (1) and split/re-encoded key echoes (2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Cli

PROXY_PASSWORD = "Pr0xyPassw0rd"


@pytest.mark.parametrize(
    "url",
    [
        f"https://proxyuser:{PROXY_PASSWORD}@127.0.0.1:9/",
        f"ftp://proxyuser:{PROXY_PASSWORD}@127.0.0.1:9/",  # wrong scheme: still never echoed
        f"https://{PROXY_PASSWORD}@example.com/",
    ],
)
def test_base_url_with_userinfo_is_refused_and_never_stored_or_printed(cli: Cli, tmp_path: Path, url: str) -> None:
    p = cli.run("account", "add", "wildberries", "wb1", "--base-url", url, input="wb-token-123456", check=False)
    assert p.returncode == 2
    out = p.stdout + p.stderr
    assert PROXY_PASSWORD not in out
    assert len([line for line in out.splitlines() if line.strip()]) == 1, out
    listed = cli.run("account", "list", "--json").stdout
    assert PROXY_PASSWORD not in listed
    stored = b"".join(f.read_bytes() for f in (tmp_path / "home").rglob("*") if f.is_file())
    assert PROXY_PASSWORD.encode() not in stored
