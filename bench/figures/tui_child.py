"""The subprocess of figures 3, 7 and 8: the real app on a store, without a sync engine, so
nothing arrives. It imports nothing of the bench harness (whose data generator pulls in the
sync engine and connectors), so the cold start measured is chatdesk's own."""

from __future__ import annotations

import sys


def main() -> None:
    from chatdesk.app import ChatdeskApp
    from chatdesk.config import Config
    from chatdesk.store.db import Database

    db = Database(f"sqlite:///{sys.argv[1]}", create=False)
    try:
        ChatdeskApp(db, config=Config()).run()
    finally:
        db.close()


if __name__ == "__main__":
    main()
