"""check engine: alert claims and version, the notification outbox and its delivery attempts

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # A claim is a lease: a worker that dies leaves rows that any worker may claim once it expires.
    op.add_column("alerts", _timestamp("claimed_until"))
    op.add_column("alerts", sa.Column("claimed_by", sa.String(64), nullable=True))
    # Bumped by every user edit, so a check evaluated before an edit is discarded at save time.
    op.add_column("alerts", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))

    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("alert_id", sa.Uuid(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column(
            "rule_id",
            sa.Uuid(),
            sa.ForeignKey("notification_rules.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("destination_type", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _timestamp("next_attempt_at", nullable=False),
        _timestamp("lease_until"),
        sa.Column("leased_by", sa.String(64), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _timestamp("created_at", nullable=False),
        _timestamp("delivered_at"),
    )
    op.create_index("ix_notification_outbox_due", "notification_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_notification_outbox_alert", "notification_outbox", ["alert_id", "created_at"])

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "notification_id",
            sa.Uuid(),
            sa.ForeignKey("notification_outbox.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        _timestamp("started_at", nullable=False),
        _timestamp("finished_at", nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_delivery_attempts_notification", "delivery_attempts", ["notification_id", "attempt"])


def downgrade() -> None:
    op.drop_index("ix_delivery_attempts_notification", "delivery_attempts")
    op.drop_table("delivery_attempts")
    op.drop_index("ix_notification_outbox_alert", "notification_outbox")
    op.drop_index("ix_notification_outbox_due", "notification_outbox")
    op.drop_table("notification_outbox")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("version")
        batch.drop_column("claimed_by")
        batch.drop_column("claimed_until")
