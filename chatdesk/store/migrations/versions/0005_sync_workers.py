"""sync workers: live sync engines, so several daemons split the accounts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

- ``syncworker``: one row per running sync engine (its lease owner id) with a heartbeat
  expiry; live workers each take at most ceil(accounts / workers) leases.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "syncworker",
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("heartbeat_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner"),
    )


def downgrade() -> None:
    raise NotImplementedError("chatdesk stores are only ever migrated forward")
