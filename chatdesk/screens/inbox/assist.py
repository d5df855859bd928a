"""Assist in the inbox (issue 14): ctrl+s suggestions in the composer, ``t`` topic filter,
``I`` stats, and recording rule-check blocks for the report.

Everything that touches the store, the keyring, a subprocess or the network runs in a thread
worker. A chosen suggestion goes into the composer only if the composer still shows the chat it
was made for and that chat's latest buyer message is still the one it answers; otherwise it is
dropped with a notice. It is then rule-checked like anything typed; nothing is sent by itself.
"""

from __future__ import annotations

from typing import Any

from textual import work

from chatdesk.screens.inbox.base import InboxBase
from chatdesk.store.views import ChatRow


class AssistActions(InboxBase):
    _model_call: Any = None

    # ------------------------------------------------------------------ suggestions (ctrl+s)

    def action_suggest(self) -> None:
        chat = self.composer.chat
        if chat is None:
            self.desk.say("open a chat first (Enter), then press ctrl+s in the composer")
            return
        self.composer.set_activity("finding suggestions…")  # not a toast: it would cover the picker
        self._load_suggestions(chat)

    @work(thread=True, exclusive=True, group="suggest", exit_on_error=False)
    def _load_suggestions(self, chat: ChatRow) -> None:
        from chatdesk.assist import llm
        from chatdesk.assist import suggest as assist_suggest
        from chatdesk.usecases.followups import load_templates

        desk = self.desk

        def offline() -> tuple[Any, list[Any], Any]:
            found = load_templates(str(desk.home) if desk.home else None)
            result = assist_suggest.suggest(
                desk.db, chat.id, config=desk.config, found_templates=found, now=desk.clock()
            )
            return result, found, llm.parse_settings(desk.config.assist)

        ok, loaded = desk.attempt(offline)
        if not ok or loaded is None:
            self.app.call_from_thread(lambda: self.composer.set_activity(""))
            return
        result, found, settings = loaded
        model = settings.enabled and result.for_message_id is not None
        who = (settings.model or "your command") if model else None
        self.app.call_from_thread(self._show_suggestions, chat, result, who)
        if model:
            self._draft_with_model(chat, result, found, settings)

    def _show_suggestions(self, chat: ChatRow, result: Any, who: str | None) -> None:
        from chatdesk.screens.suggestions import SuggestionPicker

        def chosen(s: Any) -> None:
            call = self._model_call
            if call is not None:
                call.cancel()  # Esc or a choice: a pending draft is not wanted any more
                self._model_call = None
            if s is not None:
                self._check_and_insert(chat, result, s.text)

        self.composer.set_activity("")
        self._picker = SuggestionPicker(result, model_pending=who)
        self.app.push_screen(self._picker, chosen)

    def _draft_with_model(self, chat: ChatRow, result: Any, found: list[Any], settings: Any) -> None:
        from chatdesk.assist import llm
        from chatdesk.assist import suggest as assist_suggest

        desk = self.desk
        key = None
        if settings.base_url and not settings.command:
            secrets = desk.secrets
            if secrets is not None:
                try:
                    key = secrets.get(llm.KEY_NAME)
                except Exception:
                    key = None  # no key stored: the endpoint may need none (local models)

        def factory(ctx: dict[str, Any]) -> Any:
            self._model_call = llm.ModelCall(settings, ctx, key=key)
            return self._model_call

        try:
            s = assist_suggest.model_suggestion(desk.db, chat.id, result, factory, found, now=desk.clock())
            error = None
        except llm.Cancelled:
            return
        except llm.ModelError as exc:
            s, error = None, str(exc)
        except Exception as exc:  # store trouble: a notice, never a traceback
            s, error = None, f"could not draft: {exc}"
        self.app.call_from_thread(self._model_arrived, s, error)

    def _model_arrived(self, s: Any, error: str | None) -> None:
        picker = getattr(self, "_picker", None)
        if picker is not None and picker.is_attached:
            picker.add_model(s, error)

    @work(thread=True, group="suggest-insert", exit_on_error=False)
    def _check_and_insert(self, chat: ChatRow, result: Any, text: str) -> None:
        from chatdesk.assist import suggest as assist_suggest

        ok, current = self.desk.attempt(lambda: assist_suggest.still_current(self.desk.db, result))
        if not ok:
            return
        self.app.call_from_thread(self._insert, chat, bool(current), text, result.for_message_id)

    def _insert(self, chat: ChatRow, current: bool, text: str, basis: int | None = None) -> None:
        composer = self.composer
        if composer.chat is None or composer.chat.id != chat.id:
            self.desk.say("suggestion dropped: another chat is open now", severity="warning")
            return
        if not current:
            self.desk.say("suggestion dropped: the buyer wrote again meanwhile; press ctrl+s again", severity="warning")
            return
        area = composer.input
        if basis is not None:  # the send-time check guards a reply built from a suggestion
            composer.basis = basis if composer.basis is None else min(composer.basis, basis)
        area.focus()
        # rule-checked, as anything typed: the composer's line says what to check (no toast)
        if composer.replace_text(text):
            self.desk.say("replaced your draft — ctrl+z brings it back")

    # ------------------------------------------------------------------ topic filter (t)

    def action_filter_topic(self) -> None:
        from chatdesk.screens.stats import TopicPicker

        def chosen(topic: str | None) -> None:
            if topic is None:
                return
            self.chat_list.set_filter(_replace(self.chat_list.filter, topic=topic or None))
            self.follow_open_chat()
            self._update_titles()  # the list title names the topic; no toast over the composer

        self.app.push_screen(TopicPicker(self.chat_list.filter.topic), chosen)

    # ------------------------------------------------------------------ stats (I)

    def action_stats(self) -> None:
        from chatdesk.screens.stats import StatsScreen

        def jump(target: tuple[int, int] | None) -> None:
            if target is not None:
                chat_id, message_id = target
                self.show_chat(chat_id, opened=True, focus_message=message_id)
                self.follow_open_chat(say=True)  # the list cursor follows (or the list says it's hidden)

        self.app.push_screen(StatsScreen(self.desk), jump)

    # ------------------------------------------------------------------ rule-check blocks

    @work(thread=True, group="rule-block", exit_on_error=False)
    def record_block(self, chat_id: int, severity: str, codes: list[str]) -> None:
        """Remember that the rule check stopped a message here (for the report)."""
        from chatdesk.store import analytics

        self.desk.attempt(lambda: analytics.record_block(self.desk.db, chat_id, severity, codes, self.desk.clock()))


def _replace(flt: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(flt, **changes)
