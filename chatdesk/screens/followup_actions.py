"""The inbox's follow-up and template actions, kept apart from the main screen's reading and
replying: schedule a follow-up (``f``), list them (``p``), resolve a chat (``x``) and insert
a template into the composer (``ctrl+t``). Store work runs in thread workers."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work

from chatdesk.sanitize import safe_text
from chatdesk.screens.dialogs import ConfirmDialog

# The follow-up screens (and the rule tables they load) are imported on first use, not at
# start-up: cold start is paid by every launch, these by those who schedule.

if TYPE_CHECKING:
    from chatdesk.desk import Desk
    from chatdesk.store.views import ChatRow


class FollowUpActions:
    """Mixed into ``MainScreen``; relies on its ``desk``, ``_focused_chat``, ``composer``
    and ``show_chat``."""

    desk: Desk
    app: Any

    if TYPE_CHECKING:

        def _focused_chat(self) -> ChatRow | None: ...  # provided by MainScreen

    def _need_chat(self) -> ChatRow | None:
        chat = self._focused_chat()
        if chat is None:
            self.desk.say("choose a chat first", severity="warning")
        return chat

    def action_schedule_followup(self) -> None:
        chat = self._need_chat()
        if chat is not None:
            from chatdesk.screens.schedule import open_schedule_dialog

            open_schedule_dialog(self, chat.id)

    def action_followups(self) -> None:
        from chatdesk.screens.followups import FollowUpsScreen

        def opened(chat_id: int | None) -> None:
            if chat_id is not None:
                self.show_chat(chat_id, opened=True)  # type: ignore[attr-defined]

        self.app.push_screen(FollowUpsScreen(self.desk), opened)

    def action_resolve(self) -> None:
        chat = self._need_chat()
        if chat is not None:
            self._plan_resolve(chat)  # templates are read from disk: off the UI loop

    @work(thread=True, group="resolve-plan", exit_on_error=False)
    def _plan_resolve(self, chat: ChatRow) -> None:
        from chatdesk.errors import UsageError
        from chatdesk.usecases.followups import render_template, resolve_plan

        desk = self.desk
        config = desk.config
        planned = resolve_plan(chat, config, desk.clock())
        body = Text()
        if chat.waiting:
            # UX finding 4: resolving does not answer the buyer; say so before anything else.
            body.append("The buyer is waiting: their last message has no answer yet.\n\n", style="bold")
        body.append("It leaves the waiting queue until the buyer writes again. Follow-ups by your rules:\n")
        buyer_facing = False
        for p in planned:
            if p.skip is None and p.due is not None:
                buyer_facing = True
                body.append(f"• {p.rule}: {p.due.astimezone(config.tz):%a %d %b %H:%M}\n", style="bold")
                try:
                    text = render_template(p.template, chat, config, desk.home)
                except UsageError as exc:
                    text = f"(not scheduled: {exc})"
                body.append("  " + safe_text(" ".join(text.split()), single_line=True, max_len=300) + "\n")
            else:
                body.append(f"• {p.rule}: not scheduled — {p.skip}\n")
        if not planned:
            body.append("• none: no follow-up rules are configured (resolve_rules in config.toml)\n")
        body.append("Each stays visible and cancellable (p) until it is due.")

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._resolve(chat.id)

        # Buyer-facing messages need the explicit key: Enter cancels (as in every such dialog).
        dialog = ConfirmDialog(
            "Mark this chat resolved?", body, yes="resolve", destructive=buyer_facing or chat.waiting
        )
        self.app.call_from_thread(self.app.push_screen, dialog, confirmed)

    @work(thread=True, group="resolve", exit_on_error=False)
    def _resolve(self, chat_id: int) -> None:
        from chatdesk.store import followups as store_followups
        from chatdesk.usecases import followups

        desk = self.desk
        now: datetime = desk.clock()
        ok, ids = desk.attempt(lambda: followups.resolve(desk.db, desk.config, chat_id, now, desk.home))
        if not ok or ids is None:
            return
        if ids:
            rows = [store_followups.get(desk.db, i) for i in ids]
            when = "; ".join(f"{r.rule} {r.due_at.astimezone(desk.config.tz):%a %d %b %H:%M}" for r in rows)
            desk.say(f"resolved; scheduled: {when}")
        else:
            desk.say("resolved; no follow-up rule applies (or they are already scheduled)")
        desk.changed(frozenset({chat_id}))

    def action_template(self) -> None:
        chat = self._need_chat()
        if chat is not None:
            self._load_templates(chat)

    @work(thread=True, group="templates", exit_on_error=False)
    def _load_templates(self, chat: ChatRow) -> None:
        from chatdesk import templates
        from chatdesk.paths import templates_dir
        from chatdesk.usecases import followups

        desk = self.desk

        def load() -> tuple[list[templates.Template], list[str]]:
            folder = templates_dir(desk.home)
            templates.install_default_templates(folder)
            found, errors = templates.load_templates(folder)
            return found, [str(e) for e in errors]

        ok, loaded = desk.attempt(load)
        if not ok or loaded is None:
            return
        found, errors = loaded
        values = followups.template_values(chat, desk.config)
        self.app.call_from_thread(self._pick_template, found, errors, values)

    def _pick_template(self, found: list[Any], errors: list[str], values: dict[str, str | None]) -> None:
        from chatdesk.screens.templates import TemplatePicker

        def insert(text: str | None) -> None:
            if not text:
                return
            composer = self.composer  # type: ignore[attr-defined]
            area = composer.input
            area.focus()
            area.insert(text)
            composer.update_status()

        self.app.push_screen(TemplatePicker(found, errors, values), insert)
