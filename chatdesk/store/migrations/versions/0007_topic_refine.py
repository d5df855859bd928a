"""topics refined by the configured model: which buyer messages still wait for it

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

- ``message_topic.to_refine``: the offline rules were unsure of the topic and the configured
  model has not been asked yet (issue 14 §2). Existing tags start as not pending.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message_topic") as batch:
        batch.add_column(sa.Column("to_refine", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_message_topic_to_refine", "message_topic", ["to_refine", "message_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_message_topic_to_refine", table_name="message_topic")
    with op.batch_alter_table("message_topic") as batch:
        batch.drop_column("to_refine")
