"""The inbox: chat list | conversation + composer, a status line and the footer.

Threading (harlequin's invariant): every store/keyring/network call is a thread worker that
posts a message from ``chatdesk.messages``; handlers here own all widget state. Loads of "the
chat on screen" share one exclusive group, so moving on cancels a stale load; results for a
chat that is no longer the target are dropped.

Read state is the operator's: the list cursor only *previews* a chat; Enter/l opens it, and an
opened chat is marked read locally after ``mark_read_delay`` seconds (or on reply). ``M`` is the
only thing that touches the marketplace's own read marker.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.dom import DOMNode
from textual.widgets import Input

from chatdesk.assist.topics import SHORT as TOPIC_SHORT
from chatdesk.connectors import LABELS
from chatdesk.keymap import bindings, list_hint
from chatdesk.messages import DataChanged
from chatdesk.sanitize import safe_text
from chatdesk.screens.followup_actions import FollowUpActions
from chatdesk.screens.inbox.assist import AssistActions
from chatdesk.screens.inbox.drafts import Drafts
from chatdesk.screens.inbox.loading import Loading
from chatdesk.screens.inbox.navigation import Navigation
from chatdesk.screens.inbox.outgoing import Outgoing
from chatdesk.screens.inbox.reading import ReadState
from chatdesk.screens.inbox.sending import Sending
from chatdesk.store.views import ChatFilter
from chatdesk.widgets.chat_list import ChatList
from chatdesk.widgets.composer import Composer
from chatdesk.widgets.conversation import ConversationView
from chatdesk.widgets.footer import FittedFooter
from chatdesk.widgets.header import ChatHeader
from chatdesk.widgets.status_line import StatusLine

# Kept for callers that read the old module constants; the screen's tunables are class attributes.
PAGE = Loading.PAGE
DRAFT_DEBOUNCE = Loading.DRAFT_DEBOUNCE
PREVIEW_DEBOUNCE = Loading.PREVIEW_DEBOUNCE


def _clear_keys(flt: ChatFilter) -> list[tuple[bool, str]]:
    """(active?, the key that clears it) per filter, in the list title's order."""
    return [
        (bool(flt.marketplace), "1"),
        (flt.unread, "U"),
        (flt.waiting, "w"),
        (bool(flt.status), "o"),
        (bool(flt.assigned_to), "m"),
        (flt.unassigned, "b"),
        (bool(flt.topic), "t→any topic"),
        (bool(flt.text), "/ Esc"),
    ]


def _foot(hidden: bool, keys: list[str], room: int) -> str:
    """The list frame's foot: that the open chat is hidden, then the keys that clear the active
    filters, in the longest wording that fits ``room`` cells (80x24 gets a short one)."""
    notes = ("open chat not in this view", "open chat not in view") if hidden else ("",)
    clears = ("clear: " + " ".join(keys), "clear: " + " ".join(k.split("→")[0] for k in keys)) if keys else ("",)
    candidates = [(n, c) for n in notes for c in clears] + [(n, "") for n in notes] + [("", c) for c in clears]
    texts = [" · ".join(part for part in pair if part) for pair in candidates]
    return next((t for t in texts if len(t) <= room), texts[-1] if not hidden else notes[-1])


class MainScreen(AssistActions, FollowUpActions, Navigation, Outgoing, Sending, Drafts, ReadState, Loading):
    BINDINGS: ClassVar = bindings("main")
    AUTO_FOCUS = "ChatList"

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        desk = self.desk
        db = desk.db
        cfg = desk.config
        from chatdesk.store import views

        with Horizontal(id="panes"):
            with Vertical(id="list-pane"):
                yield Input(placeholder="filter: name, order, text…", id="filter-input")
                yield ChatList(
                    lambda flt, offset, limit: views.list_chats(db, flt, offset=offset, limit=limit),
                    lambda flt: views.count_chats(db, flt),
                    clock=desk.clock,
                    sla=(cfg.sla_warn_minutes, cfg.sla_late_minutes),
                    id="chat-list",
                )
            with Vertical(id="chat-pane"):
                yield ChatHeader(id="chat-header")
                yield ConversationView(tz=cfg.tz, id="conversation", me=desk.db.operator)
                yield Composer(id="composer", clock=lambda: desk.clock())  # read through: tests swap it
        yield StatusLine(desk.clock, id="status-line")
        yield FittedFooter(compact=True)

    def on_mount(self) -> None:
        self.chat_list.filter = ChatFilter(stable_order=self.desk.config.stable_order)
        self.query_one(ChatHeader).show(None)
        self.composer.set_chat(None, "")
        self._update_titles()
        self.chat_list.reload()
        self.refresh_status()
        self.set_interval(5, self.refresh_status)
        self.set_interval(self.PRESENCE_CHECK, self.presence_beat)  # team mode only; a no-op otherwise

    def on_resize(self) -> None:
        self._update_titles()  # the list frame's foot picks its wording by width

    def _update_titles(self) -> None:
        flt = self.chat_list.filter
        parts = [f"Chats {self.chat_list.total}"]
        if flt.marketplace:
            parts.append(LABELS.get(flt.marketplace, flt.marketplace))
        if flt.unread:
            parts.append("unread")
        if flt.waiting:
            parts.append("waiting")
        if flt.status:
            parts.append(flt.status)
        if flt.assigned_to:
            parts.append("mine")
        if flt.unassigned:
            parts.append("unassigned")
        if flt.topic:
            parts.append(f"topic {TOPIC_SHORT.get(flt.topic) or flt.topic}")
        if flt.text:
            parts.append(f"“{safe_text(flt.text, single_line=True, max_len=20)}”")
        pane = self.query_one("#list-pane")
        pane.border_title = Content(" · ".join(parts))  # typed filter text is never markup
        # The frame's foot: first that the open chat is hidden by the filter (the cursor is then
        # not drawn), then the keys that clear each active filter; the filter keys otherwise.
        hidden = self._hidden_id is not None and self._hidden_id == self.target_id
        keys = [key for on, key in _clear_keys(flt) if on]
        room = max(10, (pane.size.width or 28) - 5)  # the frame's corners and padding
        # Otherwise the filter keys, as remapped; team mode adds m (mine) and b (unassigned).
        hint = list_hint(self.desk.keymap, team=self.desk.db.operator is not None)
        pane.border_subtitle = _foot(hidden, keys, room) or hint
        chat = self.conversation.chat
        self.query_one("#chat-pane").border_title = (
            "Conversation"
            if chat is None
            else (
                f"Conversation · {len(self.conversation.messages)} loaded"
                + (" · more above" if self.conversation.has_more else "")
            )
        )

    # ------------------------------------------------------------------ the screen's contract

    def palette_targets(self) -> dict[str, DOMNode]:
        return {
            "main": self,
            "list": self.chat_list,
            "conversation": self.conversation,
            "composer": self.composer.input,
        }

    def store_changed(self, chat_ids: frozenset[int] | None) -> None:
        self.post_message(DataChanged(chat_ids))

    async def before_quit(self) -> None:
        worker = self.flush_draft()
        if worker is not None:
            await worker.wait()
        leaving = self.leave_presence()  # others stop seeing "viewing"/"typing" now
        if leaving is not None:
            await leaving.wait()
