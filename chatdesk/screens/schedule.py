"""The follow-up dialog: when, what, and a preview of the message exactly as it will be sent.

The time accepts presets (1d 3d 7d 14d) and typed forms (``2d 4h``, ``tomorrow 10:00``,
``завтра 10:00``, ISO dates); the resolved local time and the sending window are shown as you
type. Rule findings are shown live with the offending words highlighted; hard limits block,
warnings need an explicit confirmation (recorded with the follow-up).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static, TextArea

from chatdesk import rules, templates
from chatdesk.config import Config
from chatdesk.connectors import LABELS
from chatdesk.sanitize import safe_text
from chatdesk.screens.dialogs import DIALOG_CSS, ConfirmDialog
from chatdesk.screens.templates import TemplatePicker
from chatdesk.store.views import ChatRow
from chatdesk.timeparse import format_relative, next_allowed, parse_delay_or_time
from chatdesk.usecases.followups import WAITING_WARNING
from chatdesk.widgets.findings import FindingsView, highlighted


@dataclass(frozen=True)
class ScheduleRequest:
    due_at: datetime
    text: str
    template: str | None
    force: bool


class ScheduleDialog(ModalScreen[ScheduleRequest | None]):
    DEFAULT_CSS = (
        DIALOG_CSS.format(name="ScheduleDialog")
        + """
    ScheduleDialog > Vertical { width: 90%; max-width: 110; max-height: 100%; }
    ScheduleDialog .dialog-title { margin-bottom: 0; }
    ScheduleDialog .dialog-keys { margin-top: 0; }
    ScheduleDialog #sched-body { height: auto; max-height: 1fr; border: none; }
    ScheduleDialog TextArea { height: 4; }
    ScheduleDialog #sched-when-info { color: $text-muted; }
    ScheduleDialog #sched-when-info.-bad { color: $text-error; }
    ScheduleDialog #sched-waiting { color: $text-warning; }
    ScheduleDialog #sched-preview-box { height: auto; max-height: 6; border: round $panel; }
    """
    )
    BINDINGS: ClassVar = [
        Binding("ctrl+s,ctrl+j", "schedule", "Schedule", id="schedule_confirm"),
        Binding("ctrl+t", "template", "Template", id="schedule_template"),
        Binding("escape", "cancel", "Cancel", id="schedule_cancel"),
    ]

    def __init__(
        self,
        chat: ChatRow,
        config: Config,
        found: list[templates.Template],
        errors: list[str],
        values: Mapping[str, str | None],
        *,
        when: str = "3d",
        text: str = "",
        now: Any = None,
        title: str = "Schedule a follow-up",
    ) -> None:
        super().__init__()
        self.chat = chat
        self.config = config
        self._templates = found
        self._errors = errors
        self._values = values
        self._when = when
        self._text = text
        self._now = now  # a clock for tests; real time otherwise
        self._title = title
        self._template: str | None = None
        self.due: datetime | None = None
        self.findings: list[Any] = []

    def now(self) -> datetime:
        from chatdesk.store.db import utcnow

        return self._now() if self._now else utcnow()

    def compose(self) -> ComposeResult:
        who = safe_text(self.chat.customer or self.chat.order_id or self.chat.external_id, single_line=True)
        label = LABELS.get(self.chat.marketplace, self.chat.marketplace)
        with Vertical():
            yield Static(Text(f"{self._title} · {who} · {label}"), classes="dialog-title")
            if self.chat.waiting:  # said once, before scheduling: a nudge does not take ◷ away
                yield Static(Text(f"⚠ {WAITING_WARNING}"), id="sched-waiting")
            # Scrolls at small sizes (80x24); the title and the keys line stay on screen.
            with VerticalScroll(id="sched-body"):
                yield Static(Text("When (presets 1d 3d 7d 14d, or '2d 4h', 'tomorrow 10:00', 2026-12-01):"))
                yield Input(self._when, id="sched-when")
                yield Static(id="sched-when-info")
                yield Static(Text("Message (ctrl+t: insert a template):"))
                yield TextArea(self._text, id="sched-text", soft_wrap=True, tab_behavior="focus")
                yield Static(Text("As it will be sent:", style="bold"))
                with VerticalScroll(id="sched-preview-box"):
                    yield Static(id="sched-preview")
                yield FindingsView(id="sched-findings")
            yield Static(Text("ctrl+s schedule · ctrl+t template · Tab next field · Esc cancel"), classes="dialog-keys")

    def on_mount(self) -> None:
        self._update_when()
        self._update_preview()
        self.query_one("#sched-text", TextArea).focus()

    # -------------------------------------------------------------- live feedback
    def _update_when(self) -> None:
        info = self.query_one("#sched-when-info", Static)
        info.remove_class("-bad")
        now = self.now()
        try:
            due = parse_delay_or_time(self.query_one("#sched-when", Input).value, now=now, tz=self.config.tz)
        except ValueError as exc:
            self.due = None
            info.add_class("-bad")
            info.update(Text(str(exc)))
            return
        start, end = self.config.window
        delivered = next_allowed(due, start=start, end=end, tz=self.config.tz)
        late = rules.window_finding(self.chat, delivered, now)
        if late is not None:
            # Said now, not discovered when it expires: the marketplace would refuse it.
            self.due = None
            info.add_class("-bad")
            words = late.reason
            closes = rules.reply_window_closes(self.chat.marketplace, self.chat.kind, self.chat.last_buyer_at)
            if closes is not None and closes > now:  # still open: name the last moment in local time
                words += f" (last moment {closes.astimezone(self.config.tz):%a %d %b %H:%M})"
            info.update(Text(words))
            return
        self.due = delivered
        local = delivered.astimezone(self.config.tz).strftime("%a %d %b %H:%M")
        words = f"→ {local} ({format_relative(delivered, now)})"
        if delivered - due > timedelta(seconds=59):
            words += f" · moved into the sending window {start:%H:%M}–{end:%H:%M}"
        info.update(Text(words))

    def _update_preview(self) -> None:
        text = self.query_one("#sched-text", TextArea).text
        # The window is said by the time field (self.due is None then); the text's own findings here.
        self.findings = rules.check(
            text, marketplace=self.chat.marketplace, kind=self.chat.kind, chat_status=self.chat.status
        )
        limit = rules.limits_for(self.chat.marketplace, self.chat.kind).max_text
        preview = highlighted(text, self.findings) if text else Text("(empty)", style="dim")
        preview.append(f"\n{len(text)}/{limit} characters", style="dim")
        self.query_one("#sched-preview", Static).update(preview)
        self.query_one("#sched-findings", FindingsView).show(self.findings)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "sched-when":
            self._update_when()

    def on_text_area_changed(self, _event: TextArea.Changed) -> None:
        self._update_preview()

    # -------------------------------------------------------------- actions
    def action_template(self) -> None:
        def insert(text: str | None) -> None:
            if text:
                area = self.query_one("#sched-text", TextArea)
                area.load_text(text)
                area.move_cursor(area.document.end)
                self._update_preview()

        self.app.push_screen(TemplatePicker(self._templates, self._errors, self._values), insert)

    def action_schedule(self) -> None:
        text = self.query_one("#sched-text", TextArea).text.strip("\n")
        self._update_when()
        if self.due is None:
            self.app.bell()
            words = str(self.query_one("#sched-when-info", Static).render())
            self.notify(words or "the time is not valid", severity="error", markup=False)
            return
        hard = rules.hard(self.findings)
        if hard or not text.strip():
            self.notify(
                "; ".join(rules.describe(hard)) if hard else "the message is empty",
                severity="error",
                markup=False,
            )
            return
        warns = rules.warnings(self.findings)
        due = self.due
        if not warns:
            self.dismiss(ScheduleRequest(due, text, self._template, False))
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.dismiss(ScheduleRequest(due, text, self._template, True))

        body = "\n".join(rules.describe(warns, text))
        self.app.push_screen(
            ConfirmDialog("Schedule despite these warnings?", body, yes="schedule anyway (recorded)", destructive=True),
            confirmed,
        )

    def action_cancel(self) -> None:
        self.dismiss(None)


# ------------------------------------------------------------------ the flow around the dialog


def open_schedule_dialog(
    screen: Any, chat_id: int, *, followup: Any = None, on_done: Callable[[], None] | None = None
) -> None:
    """Load the chat and templates off the UI loop, show the dialog, then schedule (or edit)
    in a worker. ``screen`` is the calling ``DeskScreen`` (its ``desk`` gives the services);
    ``followup`` (a ``FollowUpRow``) switches the dialog to editing it."""
    desk, app = screen.desk, screen.app
    app.run_worker(
        partial(_prepare, desk, app, chat_id, followup, on_done), thread=True, group="schedule", exit_on_error=False
    )


def _prepare(desk: Any, app: Any, chat_id: int, followup: Any, on_done: Callable[[], None] | None) -> None:
    from chatdesk.paths import templates_dir
    from chatdesk.store import views
    from chatdesk.usecases import followups

    def load() -> tuple[ChatRow | None, list[templates.Template], list[str]]:
        folder = templates_dir(desk.home)
        templates.install_default_templates(folder)
        found, errors = templates.load_templates(folder)
        return views.get_chat(desk.db, chat_id), found, [str(e) for e in errors]

    ok, loaded = desk.attempt(load)
    if not ok or loaded is None or loaded[0] is None:
        return
    chat, found, errors = loaded
    values = followups.template_values(chat, desk.config)

    def show() -> None:
        if followup is not None:
            when = followup.due_at.astimezone(desk.config.tz).strftime("%Y-%m-%d %H:%M")
            dialog = ScheduleDialog(
                chat,
                desk.config,
                found,
                errors,
                values,
                when=when,
                text=followup.text,
                now=desk.clock,
                title=f"Edit follow-up {followup.id}",
            )
        else:
            dialog = ScheduleDialog(chat, desk.config, found, errors, values, now=desk.clock)
        app.push_screen(dialog, partial(_submitted, desk, app, chat, followup, on_done))

    app.call_from_thread(show)


def _submitted(
    desk: Any, app: Any, chat: ChatRow, followup: Any, on_done: Callable[[], None] | None, req: ScheduleRequest | None
) -> None:
    if req is None:
        return

    def save() -> None:
        from chatdesk.store import followups as store_followups
        from chatdesk.usecases import followups

        if followup is not None:
            codes = sorted(
                {
                    f.code
                    for f in rules.warnings(
                        rules.check(req.text, marketplace=chat.marketplace, kind=chat.kind, chat_status=chat.status)
                    )
                }
            )
            store_followups.edit(desk.db, followup.id, due_at=req.due_at, text=req.text, overrides=codes)
            desk.say(f"follow-up {followup.id} updated")
        else:
            followups.schedule(
                desk.db, desk.config, chat.id, req.due_at, req.text, template=req.template, force=req.force
            )
            local = req.due_at.astimezone(desk.config.tz).strftime("%a %d %b %H:%M")
            desk.say(f"follow-up scheduled for {local}")

    def run() -> None:
        ok, _ = desk.attempt(save)
        if ok:
            desk.changed(frozenset({chat.id}))
            if on_done is not None:
                app.call_from_thread(on_done)

    app.run_worker(run, thread=True, group="schedule-save", exit_on_error=False)
