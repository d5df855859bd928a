"""team mode: operators, per-operator drafts, seen/presence, notes, assignment, lease fencing,
PostgreSQL full-text index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

- ``operator``: the team's members.
- ``chatoperator``: per (chat, operator) the last message seen and the presence heartbeat.
- ``note``: internal notes, never in ``message`` (so never in the outbox).
- ``chat.assigned_to``, ``message.operator``.
- ``draft`` gets ``operator`` in its primary key (one draft per chat and operator).
- ``lease.fence`` (fencing counter) and ``lease.acquired_at``.
- PostgreSQL only: the ``chatdesk_ru`` text search configuration (Snowball Russian without stop
  words, Latin words as typed) and a GIN index over ``message.text`` for search.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The expression must match chatdesk/store/fts_pg.py exactly, or the index is not used.
PG_FTS = [
    "CREATE TEXT SEARCH DICTIONARY chatdesk_russian_stem (TEMPLATE = snowball, Language = russian)",
    "CREATE TEXT SEARCH CONFIGURATION chatdesk_ru (COPY = pg_catalog.russian)",
    "ALTER TEXT SEARCH CONFIGURATION chatdesk_ru ALTER MAPPING FOR word, hword, hword_part WITH chatdesk_russian_stem",
    "ALTER TEXT SEARCH CONFIGURATION chatdesk_ru ALTER MAPPING FOR asciiword, asciihword, hword_asciipart WITH simple",
    "CREATE INDEX ix_message_fts ON message USING gin "
    "(to_tsvector('chatdesk_ru'::regconfig, translate(text, 'ёЁ', 'еЕ')))",
]


def upgrade() -> None:
    op.create_table(
        "operator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_operator_name", "operator", ["name"], unique=True)
    op.create_table(
        "chatoperator",
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("seen_message_id", sa.Integer(), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("presence", sa.String(length=16), nullable=True),
        sa.Column("presence_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["chat_id"], ["chat.id"]),
        sa.PrimaryKeyConstraint("chat_id", "operator"),
    )
    op.create_table(
        "note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chat.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_note_chat_id", "note", ["chat_id"], unique=False)
    with op.batch_alter_table("chat") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(length=64), nullable=True))
    op.create_index("ix_chat_assigned_to", "chat", ["assigned_to"], unique=False)
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("operator", sa.String(length=64), nullable=True))
    with op.batch_alter_table("lease") as batch:
        batch.add_column(sa.Column("fence", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True))

    # draft: (chat_id) -> (chat_id, operator). A new table and a copy work the same on both engines.
    op.create_table(
        "draft_new",
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chat.id"]),
        sa.PrimaryKeyConstraint("chat_id", "operator"),
    )
    op.execute(
        "INSERT INTO draft_new (chat_id, operator, text, updated_at) SELECT chat_id, '', text, updated_at FROM draft"
    )
    op.drop_table("draft")
    op.rename_table("draft_new", "draft")

    if op.get_bind().dialect.name == "postgresql":
        for ddl in PG_FTS:
            op.execute(ddl)


def downgrade() -> None:
    raise NotImplementedError("chatdesk stores are only ever migrated forward")
