"""SQL tables of log alerts: alerts, their event rows, destinations (groups of per-kind notification rules)
and Slack integrations. Schema owned by Alembic revision 0003; queries the alert service needs live here.

Every timestamp column is :class:`UtcDateTime`: SQLite drops offsets, so values are stored as UTC and read
back as aware UTC datetimes on both back ends (stored text then also sorts and compares chronologically).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, Session, SQLModel, col, func, select

from logs_mcp.store.state import Project, utcnow


class UtcDateTime(sa.TypeDecorator[datetime]):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc_column(nullable: bool = True) -> Any:
    return Field(default=None, sa_type=UtcDateTime, nullable=nullable)


class AlertRow(SQLModel, table=True):
    """One log alert (alerts.md §1.1), owned by a project. ``created_by_*`` stand in for PostHog's user."""

    __tablename__ = "alerts"
    __table_args__ = (
        sa.Index("ix_alerts_project_created", "project_id", "created_at"),
        sa.Index("ix_alerts_due", "enabled", "next_check_at"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    project_id: int = Field(
        sa_column=sa.Column(sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    )
    name: str = Field(max_length=255)
    enabled: bool
    filters: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    threshold_count: int
    threshold_operator: str = Field(max_length=16)
    window_minutes: int
    check_interval_minutes: int
    state: str = Field(max_length=32)
    evaluation_periods: int
    datapoints_to_alarm: int
    cooldown_minutes: int
    snooze_until: datetime | None = _utc_column()
    next_check_at: datetime | None = _utc_column()
    last_notified_at: datetime | None = _utc_column()
    last_checked_at: datetime | None = _utc_column()
    consecutive_failures: int = 0
    first_enabled_at: datetime | None = _utc_column()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    created_by_key_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True)
    )
    created_by_label: str = Field(default="", max_length=200)
    updated_at: datetime | None = _utc_column()
    # Owned by the check engine (Alembic 0004): its lease on the alert, and a counter every user edit bumps
    # (see ``_bump_version``) so that a check evaluated before an edit is discarded.
    claimed_until: datetime | None = _utc_column()
    claimed_by: str | None = Field(default=None, max_length=64)
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


@sa.event.listens_for(AlertRow, "before_update")
def _bump_version(_mapper: object, _connection: object, row: AlertRow) -> None:
    row.version += 1


class AlertEventRow(SQLModel, table=True):
    """One event of an alert (§3.2); ``explanation`` is our quotable account of a check."""

    __tablename__ = "alert_events"
    __table_args__ = (sa.Index("ix_alert_events_alert_created", "alert_id", "created_at"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    alert_id: UUID = Field(
        sa_column=sa.Column(sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    result_count: int | None = None
    threshold_breached: bool = False
    state_before: str = Field(max_length=32)
    state_after: str = Field(max_length=32)
    error_message: str | None = Field(default=None, sa_type=sa.Text)
    query_duration_ms: int | None = None
    explanation: str | None = Field(default=None, sa_type=sa.Text)


class AlertDestination(SQLModel, table=True):
    """A destination of an alert: one notification rule per event kind, created and deleted together."""

    __tablename__ = "alert_destinations"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    alert_id: UUID = Field(
        sa_column=sa.Column(sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    type: str = Field(max_length=16)  # slack | webhook | discord | teams
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class NotificationRule(SQLModel, table=True):
    """Who hears about one event kind (firing | resolved | broken | errored) of an alert, and how.

    Its id is what the API calls a ``hog_function_id``. ``config`` holds the type's fields (Slack integration
    id and channel, or URL); ``webhook_secret`` signs webhook bodies and is never returned.
    """

    __tablename__ = "notification_rules"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    destination_id: UUID = Field(
        sa_column=sa.Column(
            sa.ForeignKey("alert_destinations.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    alert_id: UUID = Field(
        sa_column=sa.Column(sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    kind: str = Field(max_length=16)
    type: str = Field(max_length=16)
    config: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    webhook_secret: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class Integration(SQLModel, table=True):
    """A Slack workspace registered with logs-mcp; ``bot_token`` stays server-side, never returned."""

    __tablename__ = "integrations"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(
        sa_column=sa.Column(sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    kind: str = Field(default="slack", max_length=16)
    name: str = Field(default="", max_length=200)
    bot_token: str = Field(max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


# --- queries of the alert service ----------------------------------------------------------------------


def lock_project_alerts(session: Session, project_id: int) -> None:
    """Serialise alert writes of one project until the transaction ends.

    A no-op UPDATE of the project row: on PostgreSQL it takes the row lock, on SQLite the database write
    lock, so the cap count and read-modify-write updates cannot interleave (§1.2 "serialised per team").
    """
    session.execute(sa.update(Project).where(col(Project.id) == project_id).values(name=Project.name))


def count_alerts(session: Session, project_id: int) -> int:
    query = select(func.count()).select_from(AlertRow).where(AlertRow.project_id == project_id)
    return session.exec(query).one()


def list_alerts(session: Session, project_id: int, limit: int, offset: int) -> list[AlertRow]:
    query = (
        select(AlertRow)
        .where(AlertRow.project_id == project_id)
        .order_by(col(AlertRow.created_at).desc(), col(AlertRow.id))
        .limit(limit)
        .offset(offset)
    )
    return list(session.exec(query))


def get_alert(
    session: Session, project_id: int, alert_id: UUID, *, for_update: bool = False
) -> AlertRow | None:
    query = select(AlertRow).where(AlertRow.id == alert_id, AlertRow.project_id == project_id)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def delete_alert(session: Session, alert: AlertRow) -> None:
    """Hard delete; events, destinations and notification rules go with it (ON DELETE CASCADE)."""
    session.execute(sa.delete(AlertRow).where(col(AlertRow.id) == alert.id))


def _visible(query: Any) -> Any:
    """§3.6: hide quiet check rows (no error, state unchanged)."""
    quiet = sa.and_(
        col(AlertEventRow.kind) == "check",
        col(AlertEventRow.error_message).is_(None),
        col(AlertEventRow.state_before) == col(AlertEventRow.state_after),
    )
    return query.where(sa.not_(quiet))


def list_visible_events(
    session: Session, alert_id: UUID, kind: str | None, limit: int, offset: int
) -> tuple[int, list[AlertEventRow]]:
    """The events list page (§3.6), newest first, and the total count of visible rows."""
    conditions: list[Any] = [AlertEventRow.alert_id == alert_id]
    if kind is not None:
        conditions.append(AlertEventRow.kind == kind)
    total = session.exec(_visible(select(func.count()).select_from(AlertEventRow).where(*conditions))).one()
    rows = session.exec(
        _visible(select(AlertEventRow).where(*conditions))
        .order_by(col(AlertEventRow.created_at).desc(), col(AlertEventRow.id))
        .limit(limit)
        .offset(offset)
    )
    return total, list(rows)


def events_since(session: Session, alert_ids: Sequence[UUID], since: datetime) -> list[AlertEventRow]:
    """Every event row (quiet ones too) of these alerts at or after ``since``: the timeline's input."""
    if not alert_ids:
        return []
    query = select(AlertEventRow).where(
        col(AlertEventRow.alert_id).in_(alert_ids), AlertEventRow.created_at >= since
    )
    return list(session.exec(query))


def _latest_of_each(session: Session, alert_ids: Sequence[UUID], *conditions: Any) -> list[AlertEventRow]:
    """Per alert, the newest event row matching ``conditions`` (one query for all alerts)."""
    if not alert_ids:
        return []
    matching = [col(AlertEventRow.alert_id).in_(alert_ids), *conditions]
    newest = (
        select(col(AlertEventRow.alert_id), func.max(AlertEventRow.created_at).label("at"))
        .where(*matching)
        .group_by(col(AlertEventRow.alert_id))
        .subquery()
    )
    query = (
        select(AlertEventRow)
        .join(
            newest,
            sa.and_(
                col(AlertEventRow.alert_id) == newest.c.alert_id, col(AlertEventRow.created_at) == newest.c.at
            ),
        )
        .where(*matching)
    )
    return list(session.exec(query))


def latest_toggles_before(
    session: Session, alert_ids: Sequence[UUID], before: datetime
) -> list[AlertEventRow]:
    """Per alert, the newest enable/disable row strictly before ``before`` (§2.13 step 3)."""
    return _latest_of_each(
        session,
        alert_ids,
        col(AlertEventRow.kind).in_(("enable", "disable")),
        AlertEventRow.created_at < before,
    )


def latest_check_errors(session: Session, alert_ids: Sequence[UUID]) -> dict[UUID, str]:
    """Per alert, the message of its newest errored ``check`` row (§3.5)."""
    rows = _latest_of_each(
        session, alert_ids, AlertEventRow.kind == "check", col(AlertEventRow.error_message).is_not(None)
    )
    return {row.alert_id: row.error_message for row in rows if row.error_message is not None}


def destination_types(session: Session, alert_ids: Sequence[UUID]) -> dict[UUID, list[str]]:
    """Per alert, the sorted distinct types of its destinations (§6.7)."""
    if not alert_ids:
        return {}
    query = (
        select(AlertDestination.alert_id, AlertDestination.type)
        .where(col(AlertDestination.alert_id).in_(alert_ids))
        .distinct()
    )
    types: dict[UUID, list[str]] = {}
    for alert_id, type_ in session.exec(query):
        types.setdefault(alert_id, []).append(type_)
    return {alert_id: sorted(found) for alert_id, found in types.items()}
