"""team mode: who scheduled a follow-up and what they had seen (held at delivery)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

- ``followup.operator``: the operator who scheduled it (NULL in solo use).
- ``followup.seen_seq``: the newest ``message.id`` of the chat when it was scheduled (or when
  the operator chose to send it anyway); a buyer message or another person's reply above it
  holds the follow-up at delivery (state ``held``) until reviewed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("followup") as batch:
        batch.add_column(sa.Column("operator", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("seen_seq", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("followup") as batch:
        batch.drop_column("seen_seq")
        batch.drop_column("operator")
