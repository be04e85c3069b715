"""indexes for the conversation lists: newest first, overall and per status

Without them `GET /api/conversations` (every conversation but bot-only ones, newest first) read and
sorted the whole table, and `?status=closed&offset=...` sorted every closed conversation: 121 ms and
213 ms of SQLite time at 100,000 conversations, growing with history (bench/history.py). With them
both walk an index and stop after one page: 1.8 ms and 0.2 ms.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_last_message', ['last_message_at'], unique=False)
        batch_op.create_index('ix_conversation_status_last_message', ['status', 'last_message_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_status_last_message')
        batch_op.drop_index('ix_conversation_last_message')
