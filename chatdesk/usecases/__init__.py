"""Use cases shared by the CLI and the TUI: what a seller does, independent of how they asked.

- ``accounts``: add, test and remove an account; download an attachment; set a read marker.
- ``replies``: check a reply against the rules, split it into the marketplace's requests, queue
  it in the outbox and (for the CLI) wait for the outcome.
- ``followups``: render templates, schedule follow-ups, decide due ones, resolve a chat.

Everything here is blocking (store, keyring, one short event loop for HTTP): the TUI calls it
from thread workers, never on the UI loop.
"""
