"""Moving around: panes, next unread, filters, search, accounts, help."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.message import Message
from textual.widgets import Input

from chatdesk.messages import (
    DataChanged,
    JumpTo,
)
from chatdesk.screens.inbox.base import InboxBase
from chatdesk.store.views import ChatFilter

if TYPE_CHECKING:
    pass

STATUS_CYCLE = {None: "open", "open": "closed", "closed": None}


class UnreadFound(Message):
    def __init__(self, index: int | None) -> None:
        super().__init__()
        self.index = index


class ChatLocated(Message):
    """Where a chat is in the list's ordering under ``flt`` (``None``: not in that filter);
    ``say``: tell the user in a toast when it is not (a jump), besides the list's frame."""

    def __init__(self, chat_id: int, index: int | None, flt: ChatFilter | None = None, say: bool = True) -> None:
        super().__init__()
        self.chat_id = chat_id
        self.index = index
        self.flt = flt
        self.say = say


class Navigation(InboxBase):
    # ------------------------------------------------------------------ navigation and filters

    def action_focus_pane(self, delta: int) -> None:
        panes = [self.chat_list, self.conversation, self.composer.input]
        panes = [p for p in panes if not p.disabled]
        focused = self.focused
        index = next((i for i, p in enumerate(panes) if p is focused), -1)
        panes[(index + delta) % len(panes)].focus()

    def action_back(self) -> None:
        if self.focused is self.composer.input:
            self.conversation.focus()
        else:
            self.chat_list.focus()

    def action_next_unread(self) -> None:
        self._find_unread(self.chat_list.filter, self.chat_list.cursor)

    @work(thread=True, exclusive=True, group="next-unread", exit_on_error=False)
    def _find_unread(self, flt: ChatFilter, start: int) -> None:
        from chatdesk.store import views

        db = self.desk.db
        total = views.count_chats(db, flt)
        for begin, end in ((start + 1, total), (0, start + 1)):
            offset = begin
            while offset < end:
                rows = views.list_chats(db, flt, offset=offset, limit=min(200, end - offset))
                if not rows:
                    break
                for i, row in enumerate(rows):
                    if row.unread:
                        self.post_message(UnreadFound(offset + i))
                        return
                offset += len(rows)
        self.post_message(UnreadFound(None))

    def on_unread_found(self, message: UnreadFound) -> None:
        if message.index is None:
            self.desk.say(
                "no unread chats"
                + (
                    " in this filter"
                    if self.chat_list.filter != ChatFilter(stable_order=self.desk.config.stable_order)
                    else ""
                )
            )
            return
        self.chat_list.move_to(message.index)
        self.chat_list.focus()

    def _set_filter(self, **changes: Any) -> None:
        from dataclasses import replace

        self.chat_list.set_filter(replace(self.chat_list.filter, **changes))
        self.follow_open_chat()
        self._update_titles()

    def action_marketplace(self, marketplace: str) -> None:
        self._set_filter(marketplace=marketplace or None)

    def action_filter_unread(self) -> None:
        self._set_filter(unread=not self.chat_list.filter.unread)

    def action_filter_waiting(self) -> None:
        self._set_filter(waiting=not self.chat_list.filter.waiting)

    def action_filter_mine(self) -> None:
        """Team mode: only chats assigned to this operator (``m``); clears "unassigned"."""
        if self.desk.db.operator is None:
            self.desk.say('"mine" needs an operator name: CHATDESK_OPERATOR or operator = "…" in config.toml')
            return
        mine = None if self.chat_list.filter.assigned_to else self.desk.db.operator
        self._set_filter(assigned_to=mine, unassigned=False)

    def action_filter_unassigned(self) -> None:
        """Team mode: only chats nobody is assigned to (``b``); clears "mine"."""
        self._set_filter(unassigned=not self.chat_list.filter.unassigned, assigned_to=None)

    def action_filter_status(self) -> None:
        self._set_filter(status=STATUS_CYCLE[self.chat_list.filter.status])

    def action_filter_text(self) -> None:
        box = self.query_one("#filter-input", Input)
        box.add_class("-shown")
        box.focus()

    @on(Input.Changed, "#filter-input")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        value = event.value.strip() or None
        self._filter_timer = self.set_timer(0.2, lambda: self._set_filter(text=value))

    @on(Input.Submitted, "#filter-input")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.remove_class("-shown")
        self.chat_list.focus()

    def key_escape(self) -> None:
        box = self.query_one("#filter-input", Input)
        if box.has_focus:
            box.value = ""
            box.remove_class("-shown")
            self._set_filter(text=None)
            self.chat_list.focus()

    def action_search(self) -> None:
        from chatdesk.screens.search import SearchScreen

        def done(hit: tuple[int, int] | None) -> None:
            if hit:
                self.post_message(JumpTo(*hit))

        self.app.push_screen(SearchScreen(self.desk), done)

    def on_jump_to(self, message: JumpTo) -> None:
        self.show_chat(message.chat_id, focus_message=message.message_id)
        self.conversation.focus()
        self.follow_open_chat(say=True)

    def follow_open_chat(self, *, say: bool = False) -> None:
        """Put the list cursor on the open chat, wherever it was opened from (a jump, a filter
        change): until it is found the cursor is not drawn; if the filter hides the chat, the
        list's frame says so (``say``: a toast too). Never changes which chat is open."""
        if self.target_id is None:
            return
        self.chat_list.detach()
        self._locate(self.chat_list.filter, self.target_id, say)

    @work(thread=True, exclusive=True, group="locate", exit_on_error=False)
    def _locate(self, flt: ChatFilter, chat_id: int, say: bool = True) -> None:
        """Where ``chat_id`` is in the list's current ordering (pages of 200), for the cursor."""
        from chatdesk.store import views

        db = self.desk.db
        offset = 0
        while True:
            rows = views.list_chats(db, flt, offset=offset, limit=200)
            if not rows:
                break
            for i, row in enumerate(rows):
                if row.id == chat_id:
                    self.post_message(ChatLocated(chat_id, offset + i, flt, say))
                    return
            offset += len(rows)
        self.post_message(ChatLocated(chat_id, None, flt, say))

    def on_chat_located(self, message: ChatLocated) -> None:
        if message.chat_id != self.target_id:
            return  # the user moved on meanwhile
        if message.flt is not None and message.flt != self.chat_list.filter:
            return  # the filter changed meanwhile; its own look-up follows
        if message.index is None:
            self._hidden_id = message.chat_id
            self.chat_list.detach()
            if message.say:
                self.desk.say("that chat is not in the current filter; press 1 to show all chats")
        else:
            self._hidden_id = None
            self.chat_list.select_chat(message.index, message.chat_id)
        self._update_titles()

    def action_sync(self) -> None:
        self.desk.sync_now(None)

    def action_accounts(self) -> None:
        from chatdesk.screens.accounts import AccountsScreen

        self.app.push_screen(AccountsScreen(self.desk), lambda _r: self.post_message(DataChanged()))

    def action_help(self) -> None:
        from chatdesk.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self.desk.keymap, str(self.desk.config_path)))

    async def action_quit(self) -> None:
        await self.app.action_quit()
