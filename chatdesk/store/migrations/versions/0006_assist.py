"""assist and insight: topics of buyer messages, hook events fired, rule-check blocks

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

- ``message_topic``: one topic per buyer message (offline rules or the configured model),
  deleted with its message.
- ``hook_event``: the unique key of every event handed to a ``[hooks]`` command (fired once).
- ``rule_block``: messages the rule check refused, for the report.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_topic",
        sa.Column("message_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index("ix_message_topic_topic", "message_topic", ["topic"], unique=False)
    op.create_table(
        "hook_event",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "rule_block",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("codes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chat.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rule_block_at", "rule_block", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_rule_block_at", table_name="rule_block")
    op.drop_table("rule_block")
    op.drop_table("hook_event")
    op.drop_index("ix_message_topic_topic", table_name="message_topic")
    op.drop_table("message_topic")
