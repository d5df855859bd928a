"""The sync engine: polling, delivery and scheduling in one object, and one round for the CLI."""

from __future__ import annotations

import asyncio

from chatdesk.store import accounts as store_accounts
from chatdesk.sync.runtime import (
    AccountResult,
)
from chatdesk.sync.scheduler import Scheduling


class SyncEngine(Scheduling):
    """Polls every account, delivers the outbox and due follow-ups; see the package docstring."""

    # ------------------------------------------------------------------ one round (CLI)
    async def run_once(self, account_names: list[str] | None = None) -> list[AccountResult]:
        accounts = await asyncio.to_thread(store_accounts.list_accounts, self.db)
        if account_names:
            wanted = set(account_names)
            accounts = [a for a in accounts if a.name in wanted]
        results = await asyncio.gather(*(self.poll_account(a.id, force=True) for a in accounts if a.enabled))
        await self.deliver_followups()
        return list(results)

    def run_once_blocking(self, account_names: list[str] | None = None) -> list[AccountResult]:
        """One round from synchronous code (``sync --once``, ``demo --headless``), then the
        clients are closed and the leases released."""

        async def go() -> list[AccountResult]:
            try:
                return await self.run_once(account_names)
            finally:
                await self.aclose()

        return asyncio.run(go())
