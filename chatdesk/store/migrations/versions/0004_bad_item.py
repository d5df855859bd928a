"""bad items: what a marketplace sent that could not be stored, by its raw id

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

- ``bad_item``: one row per (account, stream, raw id) with the reason, how often it came back
  and when; shown by ``account list`` (and ``--json``) and the accounts screen, so an
  unstorable item is never dropped silently and never blocks its stream (issue 11 §1).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bad_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("chat_external_id", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "stream", "external_id", name="uq_bad_item"),
    )
    op.create_index("ix_bad_item_account_id", "bad_item", ["account_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_bad_item_account_id", table_name="bad_item")
    op.drop_table("bad_item")
