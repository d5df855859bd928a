"""follow-ups sent now by hand ignore the sending window

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

- ``followup.ignore_window``: a person asked for this follow-up to go now (``followup send``,
  ``S`` on the follow-ups screen, send anyway); the seller's sending window does not apply.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("followup") as batch:
        batch.add_column(sa.Column("ignore_window", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    raise NotImplementedError("chatdesk stores are only ever migrated forward")
