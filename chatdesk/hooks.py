"""Event hooks: ``[hooks]`` in config.toml runs a command of the seller's choice when something
happens (a Telegram bot, an e-mail, a desktop notification, anything).

::

    [hooks]
    buyer_message = ["/home/me/bin/tg-notify"]      # argv, run without a shell
    send_failed = ["/home/me/bin/mail-me"]
    timeout = 10                                    # seconds a command may run (default 10)
    window_closing_hours = 6                        # warn this long before a reply window closes

Events (:data:`EVENTS`): ``buyer_message`` (a buyer wrote), ``send_failed`` (a reply was
refused for good), ``sla_warn`` / ``sla_late`` (a buyer has waited ``sla_warn_minutes`` /
``sla_late_minutes``), ``window_closing`` (a chat's reply window, Ozon's 48 hours, closes within
``window_closing_hours``), ``followup_sent``, ``sync_error`` (an account's poll started failing).

Each command gets the event as environment variables (``CHATDESK_EVENT``, ``CHATDESK_ACCOUNT``,
``CHATDESK_MARKETPLACE``, ``CHATDESK_CHAT_ID``, ``CHATDESK_TITLE`` (what the list shows: the
customer, else ``order <id>``, else ``product <id>``; Ozon gives no buyer name),
``CHATDESK_CUSTOMER`` (empty when the marketplace gives no name), ``CHATDESK_TEXT``,
``CHATDESK_MESSAGE_ID``, ``CHATDESK_ORDER``, ``CHATDESK_PRODUCT``, ``CHATDESK_AT``,
``CHATDESK_DETAIL``; text sanitized to one line) and as one JSON object on stdin. It runs
without a shell, in its own process group, and is killed after ``timeout``; a failure is
logged and never delays sync. ``CHATDESK_KEYRING_PASSPHRASE`` is removed from its environment.

Each event fires once: its key is claimed in the store (``hook_event``) before the command
runs, so a TUI and a daemon on one store, or a restart, never repeat it (at most once: an event
claimed by a process killed before it ran is not retried). History is not news: messages a
first sync imports (written before the account was added) fire nothing, and the first scan
after hooks are configured only notes what is already there.

``notify_command`` (older config) is the ``buyer_message`` hook in the old form: the message
preview is appended as the last argument.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from chatdesk.sanitize import safe_text
from chatdesk.store import events as store_events
from chatdesk.store.db import Database
from chatdesk.usecases.titles import title_of

log = logging.getLogger("chatdesk.hooks")

EVENTS = ("buyer_message", "send_failed", "sla_warn", "sla_late", "window_closing", "followup_sent", "sync_error")
OPTIONS = ("timeout", "window_closing_hours")
MAX_TIMEOUT = 300.0
LOOKBACK = timedelta(days=7)
"""Waiting chats and outcomes older than this are not looked at (bounded scans)."""
SECRET_ENV = ("CHATDESK_KEYRING_PASSPHRASE",)


@dataclass(frozen=True)
class Hook:
    argv: tuple[str, ...]
    append_text: bool = False
    """The ``notify_command`` form: the sanitized text is the last argument."""


@dataclass(frozen=True)
class HookSettings:
    hooks: dict[str, Hook] = field(default_factory=dict)
    timeout: float = 10.0
    window_closing_hours: float = 6.0

    @property
    def enabled(self) -> bool:
        return bool(self.hooks)


def parse_settings(raw: Mapping[str, object], notify_command: Sequence[str] = ()) -> HookSettings:
    """``[hooks]`` from config.toml; raises ValueError naming the bad key. An event's value is a
    non-empty list of strings (argv); ``timeout`` is 0.1-300 s; ``window_closing_hours`` 0-48."""
    hooks: dict[str, Hook] = {}
    timeout, closing = 10.0, 6.0
    for key, value in raw.items():
        if key == "timeout":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.1 <= value <= MAX_TIMEOUT:
                raise ValueError(f"hooks.timeout must be a number of seconds from 0.1 to {MAX_TIMEOUT:g}")
            timeout = float(value)
        elif key == "window_closing_hours":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 48:
                raise ValueError("hooks.window_closing_hours must be a number of hours from 0 to 48")
            closing = float(value)
        elif key in EVENTS:
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise ValueError(f'hooks.{key} must be a command as a list of strings, like ["/path/to/script"]')
            if any("\x00" in v for v in value):
                raise ValueError(f"hooks.{key} contains a NUL character")
            hooks[key] = Hook(tuple(value))
        else:
            raise ValueError(f"unknown hooks setting {key!r}; events are {', '.join(EVENTS)}")
    if notify_command and "buyer_message" not in hooks:
        hooks["buyer_message"] = Hook(tuple(notify_command), append_text=True)
    return HookSettings(hooks, timeout, closing)


@dataclass(frozen=True)
class Event:
    """What a hook receives (``payload`` is the JSON on stdin; ``env`` its variables)."""

    name: str
    payload: dict[str, object]

    @property
    def env(self) -> dict[str, str]:
        out = {}
        for key, value in self.payload.items():
            if value is None:
                continue
            out[f"CHATDESK_{key.upper()}"] = safe_text(value, single_line=True, max_len=2000).replace("\x00", "")
        return out


def _payload(e: store_events.ChatEvent, event: str, detail: str | None = None) -> dict[str, object]:
    return {
        "event": event,
        "account": e.account,
        "marketplace": e.marketplace,
        "chat_id": e.chat_id,
        "title": title_of(e.customer, e.order_id, e.product_id, f"chat {e.chat_id}")[:200],
        "customer": safe_text(e.customer, single_line=True, max_len=200) if e.customer else None,
        "text": safe_text(e.text, single_line=True, max_len=1000) if e.text else None,
        "message_id": e.message_id,
        "order": e.order_id,
        "product": e.product_id,
        "at": e.at.isoformat(),
        "detail": safe_text(detail or e.detail, single_line=True, max_len=500) if (detail or e.detail) else None,
    }


class HookRunner:
    """Finds new events in the store, claims them and runs the configured commands.

    ``scan`` and ``fire`` do SQL and subprocess work: call them off any UI loop (the
    :class:`Watcher` thread does). ``run`` is replaceable for tests."""

    def __init__(
        self,
        db: Database,
        settings: HookSettings,
        *,
        sla_warn_minutes: int = 30,
        sla_late_minutes: int = 120,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.settings = settings
        self.sla_warn = timedelta(minutes=sla_warn_minutes)
        self.sla_late = timedelta(minutes=sla_late_minutes)
        self.clock = clock
        self.errors: deque[str] = deque(maxlen=20)
        self.fired: deque[Event] = deque(maxlen=200)

    # ------------------------------------------------------------------ finding events
    def scan(self) -> list[Event]:
        """New events, each claimed by this process (never returned twice, here or elsewhere).
        The first scan of a store only records what is already there."""
        now = self.clock()
        wanted = self.settings.hooks
        if not wanted:
            return []
        mark = store_events.watermark(self.db)
        baseline = mark is None
        out: list[Event] = []
        # buyer messages: a watermark over message ids, moved in one transaction
        if baseline:
            top = store_events.max_message_id(self.db)
            store_events.advance_watermark(self.db, None, top)
        else:
            assert mark is not None
            found, top = store_events.buyer_messages_after(self.db, mark)
            if top != mark and store_events.advance_watermark(self.db, mark, top) and "buyer_message" in wanted:
                out += [
                    Event("buyer_message", _payload(e, "buyer_message"))
                    for e in found
                    if store_events.claim(self.db, e.key, "buyer_message", now)
                ]
        candidates: list[tuple[str, str, store_events.ChatEvent, str | None]] = []
        since = now - LOOKBACK
        if "send_failed" in wanted:
            candidates += [(e.key, "send_failed", e, None) for e in store_events.failed_sends(self.db, since)]
        if "followup_sent" in wanted:
            candidates += [(e.key, "followup_sent", e, None) for e in store_events.sent_followups(self.db, since)]
        if {"sla_warn", "sla_late", "window_closing"} & set(wanted):
            closing = timedelta(hours=self.settings.window_closing_hours)
            for stub, last, status, _kind in store_events.waiting_chats(self.db, since):
                stamp = last.isoformat()
                waited = now - last
                if waited >= self.sla_late:
                    candidates.append(
                        (f"sla_late:{stub.chat_id}:{stamp}", "sla_late", stub, f"waiting {_words(waited)}")
                    )
                elif waited >= self.sla_warn:
                    candidates.append(
                        (f"sla_warn:{stub.chat_id}:{stamp}", "sla_warn", stub, f"waiting {_words(waited)}")
                    )
                window = _reply_window(stub.marketplace)
                if window is not None and (status or "").upper() not in {"CLOSED", "FINISHED"}:
                    left = last + window - now
                    if timedelta(0) < left <= closing:
                        key = f"window_closing:{stub.chat_id}:{stamp}"
                        candidates.append((key, "window_closing", stub, f"window closes in {_words(left)}"))
        if "sync_error" in wanted:
            for account, marketplace, stream, last_ok, error, attempt in store_events.sync_errors(self.db):
                stub = store_events.ChatEvent(
                    f"sync_error:{account}:{stream}:{last_ok or 'never'}",
                    "sync_error",
                    0,
                    account,
                    marketplace,
                    None,
                    None,
                    None,
                    attempt or now,
                )
                candidates.append((stub.key, "sync_error", stub, f"{stream}: {error}"))
        keys = [c[0] for c in candidates]
        done = store_events.claimed(self.db, keys)
        for key, name, stub, detail in candidates:
            if key in done or name not in wanted:
                continue
            if store_events.claim(self.db, key, name, now) and not baseline:
                payload = _payload(stub, name, detail)
                if name == "sync_error":
                    payload["chat_id"] = None
                out.append(Event(name, payload))
        return out

    # ------------------------------------------------------------------ running commands
    def fire(self, events: Sequence[Event]) -> None:
        """Run each event's command; failures are logged and kept in ``errors``, never raised."""
        for event in events:
            hook = self.settings.hooks.get(event.name)
            if hook is None:
                continue
            try:
                self.run(hook, event)
                self.fired.append(event)
            except Exception as exc:  # a hook must never break sync
                message = f"hook {event.name} ({hook.argv[0]}): {safe_text(exc, single_line=True, max_len=300)}"
                self.errors.append(message)
                log.warning("%s", message)

    def run(self, hook: Hook, event: Event) -> None:
        """Run one command without a shell; raises RuntimeError on a non-zero exit, a timeout
        (the whole process group is killed) or a command that cannot start."""
        argv = list(hook.argv)
        if hook.append_text:
            argv.append(legacy_line(event))
        env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
        env.update(event.env)
        data = json.dumps(event.payload, ensure_ascii=False).encode()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            raise RuntimeError(f"cannot start: {exc.strerror or exc}") from None
        try:
            _out, err = proc.communicate(data, timeout=self.settings.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise RuntimeError(f"killed after {self.settings.timeout:g} s") from None
        if proc.returncode:
            # the last line says why (a Python traceback ends with the error; most tools print one line)
            last = [line for line in (err or b"").decode("utf-8", "replace").splitlines() if line.strip()][-1:]
            why = safe_text(last[0], single_line=True, max_len=300) if last else ""
            raise RuntimeError(f"exit {proc.returncode}" + (f": {why}" if why else ""))


def legacy_line(event: Event) -> str:
    """The one argument ``notify_command`` gets: ``new message — Борис · OZ ozon-main: text``."""
    from chatdesk import marketplaces

    p = event.payload
    where = " ".join(x for x in (marketplaces.badge(str(p.get("marketplace") or "")), str(p.get("account") or "")) if x)
    who = str(p.get("title") or p.get("customer") or "")
    head = "new message — " + (f"{who} · {where}" if who else where)
    text = str(p.get("text") or "")
    return safe_text(f"{head}: {text}" if text else head, single_line=True, max_len=300)


def _reply_window(marketplace: str) -> timedelta | None:
    """The marketplace's reply window from the registry (Ozon 48 h; others none)."""
    from chatdesk import marketplaces

    try:
        return marketplaces.get(marketplace).reply_window
    except ValueError:
        return None


def _words(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} d"


class Watcher:
    """A daemon thread that scans for events after every sync event and once a minute (time
    passing makes SLA and window events), runs the hooks, and tags new buyer messages with
    topics. Never blocks the engine: the listener only sets a flag."""

    def __init__(
        self,
        runner: HookRunner | None,
        *,
        tag: Callable[[], object] | None = None,
        every: float = 60.0,
        name: str = "chatdesk-hooks",
    ):
        self.runner = runner
        self.tag = tag
        self.every = every
        self.companions: list[Watcher] = []
        """Other watchers started and stopped with this one (the topic refiner)."""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> Watcher:
        self._thread.start()
        for w in self.companions:
            w.start()
        return self

    def poke(self, *_args: object) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for w in self.companions:
            w.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.every)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.once()

    def once(self) -> None:
        try:
            if self.tag is not None:
                self.tag()
            if self.runner is not None:
                self.runner.fire(self.runner.scan())
        except Exception as exc:  # the store may be busy or gone; try again next time
            log.warning("hooks: %s", safe_text(exc, single_line=True, max_len=300))


def attach(engine, db: Database, config) -> Watcher:  # type: ignore[no-untyped-def]
    """Start a :class:`Watcher` for ``engine`` (a SyncEngine): hooks from ``config`` and topic
    tagging; with a configured model that refines topics (``[assist]``, see
    :attr:`chatdesk.assist.llm.AssistSettings.refines_topics`), a second thread shows the
    unsure tags to it after each tagging round. Returns the watcher (call ``stop()`` at exit).
    Raises ValueError for bad ``[hooks]`` or ``[assist]``."""
    from chatdesk.assist import llm, topics

    settings = parse_settings(getattr(config, "hooks", {}) or {}, getattr(config, "notify_command", ()))
    runner = (
        HookRunner(db, settings, sla_warn_minutes=config.sla_warn_minutes, sla_late_minutes=config.sla_late_minutes)
        if settings.enabled
        else None
    )
    assist = llm.parse_settings(getattr(config, "assist", {}) or {})
    said: list[str | None] = [None]
    refiner = (
        Watcher(
            None,
            tag=lambda: refine_topics(db, assist, getattr(engine, "secrets", None), said),
            name="chatdesk-topics",
        )
        if assist.refines_topics
        else None
    )

    def tag() -> None:
        topics.tag_new(db, limit=20_000)
        if refiner is not None:
            refiner.poke()

    watcher = Watcher(runner, tag=tag)
    if refiner is not None:
        watcher.companions.append(refiner)
    engine.add_listener(watcher.poke)
    return watcher.start()


def refine_topics(db: Database, assist, secrets, said: list[str | None] | None = None) -> object:  # type: ignore[no-untyped-def]
    """One background round of topic refinement by the configured model (bounded: 60 s of
    batches); the endpoint's key is read from the keyring here, off any UI loop. A failure is
    logged (once while it stays the same, when ``said`` carries the last one) and those
    messages are retried on the next round. Returns the :class:`chatdesk.assist.topics.Refined`."""
    from chatdesk.assist import llm, topics

    key = None
    if assist.base_url and secrets is not None:
        try:
            key = secrets.get(llm.KEY_NAME)
        except Exception:
            key = None  # no key stored: a local model needs none
    since = datetime.now(UTC) - timedelta(days=topics.BACKGROUND_DAYS)
    done = topics.refine(db, assist, key=key, since=since)
    last = said[0] if said else None
    if done.error and done.error != last:
        log.warning("topics: %s", safe_text(done.error, single_line=True, max_len=300))
    elif last and not done.error and done.asked:
        log.info("topics: the model answers again")
    if said is not None and (done.error or done.asked):
        said[0] = done.error
    return done
