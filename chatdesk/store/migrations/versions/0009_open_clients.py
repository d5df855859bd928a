"""open clients: TUIs open on the store, so sync daemons poll at the "TUI open" pace

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

- ``openclient``: one row per open TUI (its sync engine's owner id, the operator it acts for)
  with a heartbeat expiry; deleted when the TUI quits.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "openclient",
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=True),
        sa.Column("alive_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner"),
    )


def downgrade() -> None:
    raise NotImplementedError("chatdesk stores are only ever migrated forward")
