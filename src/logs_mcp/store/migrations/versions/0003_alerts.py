"""log alerts, their events, destinations with notification rules, Slack integrations

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("threshold_count", sa.Integer(), nullable=False),
        sa.Column("threshold_operator", sa.String(16), nullable=False),
        sa.Column("window_minutes", sa.Integer(), nullable=False),
        sa.Column("check_interval_minutes", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("evaluation_periods", sa.Integer(), nullable=False),
        sa.Column("datapoints_to_alarm", sa.Integer(), nullable=False),
        sa.Column("cooldown_minutes", sa.Integer(), nullable=False),
        _timestamp("snooze_until"),
        _timestamp("next_check_at"),
        _timestamp("last_notified_at"),
        _timestamp("last_checked_at"),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        _timestamp("first_enabled_at"),
        _timestamp("created_at", nullable=False),
        sa.Column(
            "created_by_key_id",
            sa.Integer(),
            sa.ForeignKey("api_keys.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_by_label", sa.String(200), nullable=False),
        _timestamp("updated_at"),
    )
    op.create_index("ix_alerts_project_created", "alerts", ["project_id", "created_at"])
    op.create_index("ix_alerts_due", "alerts", ["enabled", "next_check_at"])

    op.create_table(
        "alert_events",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("alert_id", sa.Uuid(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.Column("result_count", sa.Integer(), nullable=True),
        sa.Column("threshold_breached", sa.Boolean(), nullable=False),
        sa.Column("state_before", sa.String(32), nullable=False),
        sa.Column("state_after", sa.String(32), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("query_duration_ms", sa.Integer(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
    )
    op.create_index("ix_alert_events_alert_created", "alert_events", ["alert_id", "created_at"])

    op.create_table(
        "alert_destinations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("alert_id", sa.Uuid(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        _timestamp("created_at", nullable=False),
    )
    op.create_index("ix_alert_destinations_alert_id", "alert_destinations", ["alert_id"])

    op.create_table(
        "notification_rules",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "destination_id",
            sa.Uuid(),
            sa.ForeignKey("alert_destinations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("alert_id", sa.Uuid(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("webhook_secret", sa.String(200), nullable=True),
        _timestamp("created_at", nullable=False),
    )
    op.create_index("ix_notification_rules_destination_id", "notification_rules", ["destination_id"])
    op.create_index("ix_notification_rules_alert_id", "notification_rules", ["alert_id"])

    op.create_table(
        "integrations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("bot_token", sa.String(500), nullable=False),
        _timestamp("created_at", nullable=False),
    )
    op.create_index("ix_integrations_project_id", "integrations", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_integrations_project_id", "integrations")
    op.drop_table("integrations")
    op.drop_index("ix_notification_rules_alert_id", "notification_rules")
    op.drop_index("ix_notification_rules_destination_id", "notification_rules")
    op.drop_table("notification_rules")
    op.drop_index("ix_alert_destinations_alert_id", "alert_destinations")
    op.drop_table("alert_destinations")
    op.drop_index("ix_alert_events_alert_created", "alert_events")
    op.drop_table("alert_events")
    op.drop_index("ix_alerts_due", "alerts")
    op.drop_index("ix_alerts_project_created", "alerts")
    op.drop_table("alerts")
