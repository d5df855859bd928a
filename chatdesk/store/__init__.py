"""The local store: all SQL lives in this package.

``db`` opens it, ``schema`` defines the tables, ``ingest`` writes what marketplaces say,
``outbox`` holds outgoing messages, ``accounts`` holds accounts and poll leases, ``views``
answers the UI's and CLI's questions, ``fts`` is the SQLite-only full-text index.
"""

from chatdesk.store.db import Database, from_db, to_db, utcnow

__all__ = ["Database", "from_db", "to_db", "utcnow"]
