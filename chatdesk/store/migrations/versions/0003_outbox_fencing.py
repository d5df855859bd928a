"""outbox fencing: claim token, in-flight part, parts done; follow-up buyer sequence

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

- ``outbox.claim_token``: fencing token, +1 on every claim; every change after a send is
  conditional on the same owner and token.
- ``outbox.in_flight``: the part whose request may be on the wire (``unknown`` only then).
- ``outbox.parts_done``: requests of the row the marketplace accepted (never re-sent).
- ``followup.buyer_seq``: the newest buyer message id at scheduling; a later buyer message
  cancels the follow-up by order of arrival, not by comparing two clocks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claim_token", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("in_flight", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("parts_done", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("followup") as batch:
        batch.add_column(sa.Column("buyer_seq", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("followup") as batch:
        batch.drop_column("buyer_seq")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("parts_done")
        batch.drop_column("in_flight")
        batch.drop_column("claim_token")
