"""The screen base classes: services handed down, "the store changed", palette commands.

Every chatdesk screen gets the :class:`~chatdesk.desk.Desk` it works with from its
constructor (or, for screens pushed without one, from whoever owns the ``desk`` attribute of
the running app: a duck-typed lookup, never an import of ``chatdesk.app``). On mount it
subscribes to the desk's "store changed" :class:`~textual.signal.Signal` and hears about it in
``store_changed``. Its palette commands are its own (``Screen.COMMANDS``): the keymap entries
of the scopes ``palette_targets`` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual import events
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen

from chatdesk import keymap as keys

if TYPE_CHECKING:
    from chatdesk.desk import Desk

ResultT = TypeVar("ResultT")


class KeymapCommands(Provider):
    """The command palette offers every action of the current screen, by its help words."""

    def _entries(self) -> list[tuple[str, str, Callable[[], Any]]]:
        screen = self.screen
        targets_fn = getattr(screen, "palette_targets", None)
        targets: dict[str, DOMNode] = targets_fn() if targets_fn is not None else {}
        desk = getattr(screen, "desk", None)
        km = desk.keymap if desk is not None else {}
        entries: list[tuple[str, str, Callable[[], Any]]] = []
        for key in keys.KEYS:
            target = targets.get(key.scope)
            if target is None:
                continue
            help_text = f"{keys.SCOPES[key.scope]} · {keys.keys_in_effect(key, km)}"
            entries.append((key.description, help_text, partial(target.run_action, key.action)))
        return entries

    async def discover(self) -> Hits:
        for text, help_text, callback in self._entries():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, callback in self._entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=help_text)


class DeskMixin:
    """The desk, the store-changed subscription and the quit hook, for any screen class."""

    _desk: Desk | None = None
    app: Any

    @property
    def desk(self) -> Desk:
        if self._desk is None:
            self._desk = self.app.desk  # the running app's handle (no import of the app module)
        assert self._desk is not None
        return self._desk

    def _on_mount(self, _event: events.Mount) -> None:
        # Named like Textual's private handlers: dispatched per class along the MRO, so a
        # subclass's own ``on_mount`` runs as well.
        signal = getattr(self.app, "store_changed_signal", None)
        if signal is not None:
            signal.subscribe(self, self.store_changed)

    def store_changed(self, chat_ids: frozenset[int] | None) -> None:
        """The store changed (``chat_ids``: which chats, ``None``: anything). Override to reload."""

    def palette_targets(self) -> dict[str, DOMNode]:
        """keymap scope -> the node whose actions the palette runs for this screen."""
        return {}

    async def before_quit(self) -> None:
        """Finish what must not be lost (a draft) before the app exits."""


class DeskScreen(DeskMixin, Screen[ResultT]):
    COMMANDS: ClassVar = {KeymapCommands}

    def __init__(self, desk: Desk | None = None) -> None:
        super().__init__()
        self._desk = desk


class DeskModal(DeskMixin, ModalScreen[ResultT]):
    def __init__(self, desk: Desk | None = None) -> None:
        super().__init__()
        self._desk = desk
