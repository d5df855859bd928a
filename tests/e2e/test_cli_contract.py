"""Issue 13's CLI items, through the real CLI against the loopback sandbox: bad numbers, ids,
durations and database URLs are one plain line with exit 2; config is validated; ``account
remove`` asks or needs ``--yes``; a second answer to a WB question is an explicit ``--edit``
shown as a replacement; ``download`` saves an attachment; ``--help`` lists commands in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdesk.config import Config, check_config
from tests.e2e.conftest import TOKEN, Cli, Sandbox


def one_line(proc, code: int = 2) -> str:  # type: ignore[no-untyped-def]
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "unexpected error" not in lines[0], lines[0]
    return lines[0]


def _wb(cli: Cli, sandbox: Sandbox) -> list[dict[str, object]]:
    cli.run("account", "add", "wildberries", "shop", "--base-url", sandbox.url("wb"), input=TOKEN + "\n")
    assert "shop: ok" in cli.run("sync", "--once").stdout
    chats = cli.json("chats", "--json")
    assert isinstance(chats, list)
    return chats


def test_absurd_numbers_ids_durations_and_db_urls_are_one_line(cli: Cli, sandbox: Sandbox) -> None:
    chats = _wb(cli, sandbox)
    chat = str(next(c for c in chats if c["kind"] == "chat")["id"])
    assert "no chat with id" in one_line(cli.run("messages", "99999999999999999999999", check=False))
    assert "no chat with id" in one_line(cli.run("messages", "١٢", check=False))  # not ASCII digits
    line = one_line(cli.run("followup", "add", chat, "--in", "99999999d", "Как дела?", check=False))
    assert "too far ahead" in line
    line = one_line(cli.run("followup", "add", chat, "--at", "9999-12-31T23:59-05:00", "Как дела?", check=False))
    assert "too far ahead" in line
    assert "9223372036854775807" in one_line(cli.run("followup", "cancel", "99999999999999999999999", check=False))
    line = one_line(cli.run("--db", "postgresql+psycopg2://anna:s3cret-pw@db.example/x", "chats", check=False))
    assert "driver 'psycopg2'" in line and "postgresql" in line and "s3cret-pw" not in line
    assert "unknown kind of database" in one_line(cli.run("--db", "nosuch://h/x", "chats", check=False))
    assert "65535" in one_line(cli.run("sandbox", "serve", "--port", "99999999999999999999", check=False))


def test_postgresql_url_without_its_driver_installed(cli: Cli, tmp_path: Path) -> None:
    """``--db postgresql://…`` where psycopg is not installed (simulated: an import that fails
    the way a missing package does): one line naming the driver, exit 2, no password."""
    fake = tmp_path / "no_psycopg"
    (fake / "psycopg").mkdir(parents=True)
    (fake / "psycopg" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n"
    )
    env = {**cli.env, "PYTHONPATH": f"{fake}:{cli.env['PYTHONPATH']}"}
    line = one_line(Cli(env).run("--db", "postgresql://anna:s3cret-pw@db.example/x", "chats", check=False))
    assert "driver 'psycopg'" in line and "s3cret-pw" not in line


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ('[keymap]\nnot_a_binding = "x"\n', "has no binding 'not_a_binding'"),
        ('[keymap]\nreply = ["r"]\n', "reply must be a string"),
        ('[keymap]\nreply = ""\n', "reply needs keys"),
        ('[keymap]\nreply = "r,,i"\n', "reply needs keys"),
        ('[keymap]\nreply = "s"\n', "'s' is bound to both reply and sync"),
        ("[resolve_rules]\ncheck_in_days = -1\n", "check_in_days must be a whole number of days from 0 to 365"),
        ("[resolve_rules]\ncheck_in_days = 1e9\n", "check_in_days must be a whole number"),
        ("poll_interval = 1e20\n", "poll_interval must be a number from 5 to 86400"),
        ("poll_interval = nan\n", "poll_interval must be a number from 5 to 86400"),
        ("poll_jitter = -0.1\n", "poll_jitter must be a non-negative number"),
        ("sla_warn_minutes = 300\n", "sla_late_minutes must not be less than sla_warn_minutes"),
        ('notify_command = ["", "x"]\n', "notify_command must be a list of non-empty strings"),
    ],
)
def test_config_problems_are_one_line_and_exit_2(cli: Cli, tmp_path: Path, config: str, words: str) -> None:
    home = Path(cli.env["CHATDESK_HOME"])
    home.mkdir(mode=0o700, exist_ok=True)
    (home / "config.toml").write_text(config)
    assert words in one_line(cli.run("chats", check=False))
    cfg, problems = check_config(home / "config.toml")  # what the TUI can show as a notice
    assert len(problems) == 1 and words in problems[0]
    assert isinstance(cfg, Config)


def test_check_config_keeps_good_settings_and_defaults_the_bad(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('poll_interval = 30\nsla_late_minutes = -5\ntimezone = "Mars/Olympus"\n[keymap]\nhelp = "H"\n')
    cfg, problems = check_config(path)
    assert cfg.poll_interval == 30 and cfg.sla_late_minutes == Config().sla_late_minutes and cfg.timezone == ""
    assert cfg.keymap == {"help": "H"}
    assert len(problems) == 2
    path.write_text("[keymap]\n")  # the default bindings have no conflicts
    assert check_config(path)[1] == []


def test_account_remove_asks_or_needs_yes(cli: Cli, sandbox: Sandbox) -> None:
    _wb(cli, sandbox)
    line = one_line(cli.run("account", "remove", "shop", check=False))
    assert "--yes" in line and "chats" in line
    assert [a["name"] for a in cli.json("account", "list", "--json")] == ["shop"]  # type: ignore[index]
    assert "no account" in one_line(cli.run("account", "remove", "nobody", "--yes", check=False))
    assert cli.run("account", "remove", "shop", "--yes").stdout.strip() == "removed account shop"
    assert cli.json("account", "list", "--json") == []


def test_second_answer_to_a_wb_question_is_an_explicit_edit(cli: Cli, sandbox: Sandbox) -> None:
    chats = _wb(cli, sandbox)
    question = next(c for c in chats if c["kind"] == "question" and c["status"] == "unanswered")
    qid = str(question["id"])
    first = cli.run("send", qid, "Да, размер соответствует таблице.")
    assert first.stdout.startswith("sent")
    line = one_line(cli.run("send", qid, "Размер соответствует таблице на странице товара.", check=False))
    assert "--edit" in line and "already has a published answer" in line
    edited = cli.run("send", qid, "Размер соответствует таблице на странице товара.", "--edit")
    assert edited.stdout.startswith("sent") and "replaced the published answer" in edited.stdout
    msgs = cli.json("messages", qid, "--json")
    assert isinstance(msgs, list)
    answers = [m for m in msgs if m["author"] == "seller"]
    assert [m["replaced"] for m in answers] == [True, False]
    assert "[replaced by a later answer]" in cli.run("messages", qid).stdout
    line = one_line(cli.run("send", qid, "Третий вариант ответа", "--edit", check=False))
    assert "already edited" in line


def test_download_saves_an_attachment(cli: Cli, sandbox: Sandbox, tmp_path: Path) -> None:
    chats = _wb(cli, sandbox)
    with_files = []
    for chat in chats:
        msgs = cli.json("messages", str(chat["id"]), "--json")
        assert isinstance(msgs, list)
        with_files += [m for m in msgs if m["attachments"]]
    assert with_files, "the seeded sandbox has attachments"
    out = tmp_path / "files"
    saved_one = None
    for msg in with_files:  # some seeded files are still in (or failed) WB moderation: one line, exit 1
        proc = cli.run("download", str(msg["id"]), "--to", str(out), "--file", "1", check=False)
        if proc.returncode:
            assert any(w in one_line(proc, 1) for w in ("moderation", "being checked"))
            continue
        name = msg["attachments"][0]["name"]
        assert proc.stdout.startswith(f"saved {name} to {out}")
        saved_one = msg
        break
    assert saved_one is not None
    saved = list(out.iterdir())
    assert len(saved) == 1 and saved[0].stat().st_size > 0
    assert "no file" in one_line(cli.run("download", str(saved_one["id"]), "--file", "9", check=False))
    assert "no message with id" in one_line(cli.run("download", "99999999", check=False))
    assert "message id must be" in one_line(cli.run("download", "abc", check=False))


def test_help_lists_commands_in_a_sensible_order(cli: Cli) -> None:
    out = cli.run("--help").stdout
    order = [
        "chats",
        "messages",
        "search",
        "send",
        "download",
        "resolve",
        "followup",
        "templates",
        "account",
        "sync",
        "demo",
        "sandbox",
    ]
    positions = [out.index(f"│ {name} ") for name in order]
    assert positions == sorted(positions), out
