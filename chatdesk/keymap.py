"""Every key binding of the TUI, each with a stable id, and the user's remapping.

Users remap keys in the ``[keymap]`` table of ``config.toml`` in the chatdesk data directory
(``CHATDESK_HOME`` or the platform's user data dir, e.g. ``~/.local/share/chatdesk/config.toml``;
``CHATDESK_CONFIG`` names another file)::

    [keymap]
    reply = "r,i"          # binding id = comma-separated keys
    next_unread = "n,ctrl+n"

The ids are the first column of :data:`KEYS`; the help screen (``?``) lists them with the keys
in effect. One table feeds the widgets' ``BINDINGS``, the help screen and the command palette,
so none of them can drift from the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the table is read headless (config validation); only bindings() needs Textual
    from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    id: str
    keys: str
    action: str
    description: str
    scope: str  # "main" screen, "list", "conversation", "composer", "accounts"
    show: bool = False  # shown in the footer
    short: str = ""  # the footer's word for it


KEYS: tuple[Key, ...] = (
    # Main screen: work whichever pane has focus (except while typing in the composer).
    Key("help", "question_mark", "help", "Help: all keys", "main", True, "help"),
    Key("quit", "q", "quit", "Quit", "main", True, "quit"),  # early: the footer keeps it at 80 columns
    Key("reply", "r,i", "reply", "Reply: focus the composer", "main", True, "reply"),
    Key("editor", "E", "editor", "Compose in $EDITOR, then review", "main"),
    Key("next_unread", "n", "next_unread", "Next chat with unread messages", "main", True, "next unread"),
    Key("toggle_unread", "u", "toggle_unread", "Mark chat unread / read (locally)", "main"),
    Key("mark_read_remote", "M", "mark_read_remote", "Mark read on the marketplace too", "main"),
    Key("filter_all", "1", "marketplace('')", "Show all marketplaces", "main"),
    Key("filter_wb", "2", "marketplace('wildberries')", "Show Wildberries only", "main"),
    Key("filter_ozon", "3", "marketplace('ozon')", "Show Ozon only", "main"),
    Key("filter_ym", "4", "marketplace('yandex')", "Show Yandex Market only", "main"),
    Key("filter_unread", "U", "filter_unread", "Unread only on/off", "main"),
    Key("filter_waiting", "w", "filter_waiting", "Waiting for reply only on/off", "main"),
    Key("filter_status", "o", "filter_status", "Cycle open / closed / any", "main"),
    Key("filter_text", "slash", "filter_text", "Filter chats by text", "main"),
    Key("search", "ctrl+f,F", "search", "Search all messages", "main"),
    Key("followup", "f", "schedule_followup", "Schedule a follow-up in this chat", "main", True, "follow-up"),
    Key("followups", "p", "followups", "Follow-ups: all scheduled (edit, cancel, send now)", "main"),
    Key("resolve", "x", "resolve", "Mark resolved (schedules follow-ups by your rules)", "main"),
    Key("filter_topic", "t", "filter_topic", "Filter by topic: what the buyer writes about", "main"),
    Key("stats", "I", "stats", "Stats: response times, SLA, problems per product", "main"),
    Key("sync", "s", "sync", "Sync now", "main", True, "sync"),
    Key("assign", "A", "assign_me", "Team mode: assign the chat to me / give it back", "main"),
    Key("filter_mine", "m", "filter_mine", "Team mode: my chats only on/off", "main"),
    Key("filter_unassigned", "b", "filter_unassigned", "Team mode: unassigned chats only on/off", "main"),
    Key("note", "N", "note", "Team mode: add an internal note (the buyer never sees it)", "main"),
    Key("accounts", "a", "accounts", "Accounts", "main", True, "accounts"),
    Key("focus_next", "tab", "focus_pane(1)", "Next pane", "main"),
    Key("focus_previous", "shift+tab", "focus_pane(-1)", "Previous pane", "main"),
    # Chat list.
    Key("list_down", "j,down", "cursor(1)", "Next chat", "list"),
    Key("list_up", "k,up", "cursor(-1)", "Previous chat", "list"),
    Key("list_page_down", "pagedown,ctrl+d", "page(1)", "Page down", "list"),
    Key("list_page_up", "pageup,ctrl+u", "page(-1)", "Page up", "list"),
    Key("list_first", "g,home", "first", "First chat", "list"),
    Key("list_last", "G,end", "last", "Last chat", "list"),
    Key("open", "enter,l,right", "open", "Open chat", "list", True, "open"),
    # Conversation.
    Key("msg_down", "j,down", "select(1)", "Next message", "conversation"),
    Key("msg_up", "k,up", "select(-1)", "Previous message", "conversation"),
    Key("msg_first", "g,home", "select_first", "Oldest loaded message", "conversation"),
    Key("msg_last", "G,end", "select_last", "Newest message", "conversation"),
    Key("back", "h,left,escape", "screen.back", "Back to the chat list", "conversation"),
    Key("retry", "R", "screen.retry", "Send a failed message again", "conversation", True, "retry"),
    Key(
        "edit_failed",
        "e",
        "screen.edit_failed",
        "Edit a failed message (back to the draft)",
        "conversation",
        True,
        "edit",
    ),
    Key("confirm_arrived", "C", "screen.confirm_arrived", "An unconfirmed message did arrive", "conversation"),
    Key("download", "d", "screen.download", "Download the attachment", "conversation"),
    Key("open_attachment", "v", "screen.open_attachment", "Open the attachment", "conversation"),
    Key("copy_link", "y", "screen.copy_link", "Copy the attachment link (OSC 52)", "conversation"),
    Key("copy_text", "Y", "screen.copy_text", "Copy the message text (OSC 52)", "conversation"),
    Key("pipe", "vertical_line", "screen.pipe_message", "Pipe the message text to a command", "conversation"),
    # Composer (Enter inserts a newline; the send key is explicit).
    Key("send", "ctrl+j", "screen.send", "Send", "composer", True, "send"),
    Key("template", "ctrl+t", "screen.template", "Insert a template", "composer", True, "template"),
    Key("suggest", "ctrl+s", "screen.suggest", "Suggest a reply (past answers, model)", "composer", True, "suggest"),
    Key(
        "attach",
        "ctrl+o",
        "screen.attach",
        "Attach a file (empty path: remove attachments)",
        "composer",
        True,
        "attach",
    ),
    Key("leave_composer", "escape", "screen.back", "Leave the composer (draft kept)", "composer", True, "leave"),
    # Accounts screen.
    Key("account_add", "a", "add", "Add an account", "accounts", True, "add"),
    Key("account_test", "t", "test", "Test the account", "accounts", True, "test"),
    Key("account_remove", "d,delete", "remove", "Remove the account", "accounts", True, "remove"),
    Key("account_sync", "s", "sync", "Sync this account now", "accounts", True, "sync"),
    Key("account_close", "escape,q", "close", "Back", "accounts", True, "back"),
    Key("account_down", "j,down", "cursor(1)", "Next account", "accounts"),
    Key("account_up", "k,up", "cursor(-1)", "Previous account", "accounts"),
    Key("account_first", "g,home", "first", "First account", "accounts"),
    Key("account_last", "G,end", "last", "Last account", "accounts"),
    # Follow-ups screen (p).
    Key("followups_open", "enter", "open_chat", "Open the follow-up's chat", "followups", True, "open chat"),
    Key("followups_edit", "e", "edit", "Edit the follow-up (time, text)", "followups", True, "edit"),
    Key("followups_cancel", "c,x", "cancel_followup", "Cancel the follow-up (asks)", "followups", True, "cancel it"),
    Key("followups_send_now", "S", "send_now", "Send it now (asks; Enter cancels)", "followups", True, "send now"),
    Key("followups_history", "h", "toggle_history", "Show / hide past follow-ups", "followups", True, "history"),
    Key("followups_down", "j", "cursor_down", "Next follow-up", "followups"),
    Key("followups_up", "k", "cursor_up", "Previous follow-up", "followups"),
    Key("followups_back", "escape,q", "close", "Back", "followups", True, "back"),
    # Search (ctrl+f, F).
    Key("search_results", "down", "results", "From the query to the results (or Enter)", "search"),
    Key("search_close", "escape", "cancel", "Close search", "search", True, "close"),
    # Review after $EDITOR (E).
    Key("review_send", "y,s", "choose('send')", "Send the reviewed reply", "review", True, "send"),
    Key("review_edit", "e", "choose('edit')", "Edit it again in $EDITOR", "review", True, "edit again"),
    Key(
        "review_cancel",
        "n,q,escape",
        "choose('cancel')",
        "Cancel (the text stays in the draft)",
        "review",
        True,
        "cancel",
    ),
)

SCOPES = {
    "main": "Everywhere (not while typing)",
    "list": "Chat list",
    "conversation": "Conversation",
    "composer": "Composer",
    "accounts": "Accounts screen",
    "followups": "Follow-ups screen (p)",
    "search": "Search (ctrl+f, F): Enter on a result opens it in its chat",
    "review": "Review after $EDITOR (E)",
}


def bindings(scope: str) -> list[Binding | tuple[str, str] | tuple[str, str, str]]:
    """Textual bindings of ``scope`` (the TUI's widgets and screens call this)."""
    from textual.binding import Binding

    return [
        Binding(
            k.keys,
            k.action,
            k.short or k.description,
            show=k.show,
            id=k.id,
            key_display=_display(k.keys),
            tooltip=k.description,
        )
        for k in KEYS
        if k.scope == scope
    ]


def _display(keys: str) -> str:
    first = keys.split(",")[0]
    return {"slash": "/", "question_mark": "?", "ctrl+j": "^j", "ctrl+t": "^t", "ctrl+o": "^o", "escape": "esc"}.get(
        first, first
    )


# (``t``, the topic filter, is in the help screen; the list's hint keeps to these.)
LIST_FILTERS = ("filter_unread", "filter_waiting", "filter_status", "filter_text")
TEAM_FILTERS = ("filter_mine", "filter_unassigned")  # only with an operator (team mode)
_MARKETPLACE_FILTERS = ("filter_all", "filter_wb", "filter_ozon", "filter_ym")


def list_hint(keymap: dict[str, str], *, team: bool) -> str:
    """The chat list's one-line reminder of its filter keys, after the user's remapping:
    ``"1-4 U w o /"``, and in team mode ``m b`` (mine, unassigned) too. The first key of
    each binding is shown; marketplace keys 1..4 left as they are read ``1-4``."""
    by_id = {k.id: k for k in KEYS}

    def first(key_id: str) -> str:
        keys = keymap.get(key_id, by_id[key_id].keys)
        return _display(keys.split(",")[0].strip())

    markets = [first(k) for k in _MARKETPLACE_FILTERS]
    words = ["1-4"] if markets == ["1", "2", "3", "4"] else markets
    words += [first(k) for k in LIST_FILTERS]
    if team:
        words += [first(k) for k in TEAM_FILTERS]
    return " ".join(words)


def validate(keymap: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Split the user's keymap into known ids and the unknown ids to warn about."""
    known = {k.id for k in KEYS}
    good = {k: str(v) for k, v in keymap.items() if k in known}
    return good, sorted(set(keymap) - known)


def keys_in_effect(key: Key, keymap: dict[str, str]) -> str:
    """Human-readable keys of a binding after the user's remapping."""
    keys = keymap.get(key.id, key.keys)
    names = {"slash": "/", "question_mark": "?", "vertical_line": "|"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in keys.split(","))
