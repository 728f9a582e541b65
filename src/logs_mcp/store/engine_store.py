"""SQL of the check engine and of the notification outbox (Alembic 0004), on SQLite and PostgreSQL.

Claims are leases written into the rows themselves (``alerts.claimed_until``, ``notification_outbox.
lease_until``): a claim is one atomic ``UPDATE … RETURNING`` (on PostgreSQL its candidate rows are picked
``FOR UPDATE SKIP LOCKED``, so concurrent workers take disjoint rows without waiting); a worker that dies
leaves leases that simply expire. Saving a check is a compare-and-set on the alert's ``version`` and the
claim, so an alert edited, deleted or re-claimed meanwhile is never overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, Session, SQLModel, col, func, select

from logs_mcp.store.alert_tables import (
    AlertEventRow,
    AlertRow,
    Integration,
    NotificationRule,
    UtcDateTime,
)
from logs_mcp.store.state import Project, utcnow

QUIET_CHECKS_KEPT = 10
"""Quiet check rows (no error, no state change) kept per alert (README "Alerts")."""


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    DEAD = "dead"


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # failed, another attempt is scheduled
    DEAD = "dead"  # failed, no more attempts
    INTERRUPTED = "interrupted"  # the worker stopped mid-attempt; its lease expired


class OutboxRow(SQLModel, table=True):
    """One notification to deliver to one notification rule; its id is also its idempotency key."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        sa.Index("ix_notification_outbox_due", "status", "next_attempt_at"),
        sa.Index("ix_notification_outbox_alert", "alert_id", "created_at"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    alert_id: UUID = Field(
        sa_column=sa.Column(sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False)
    )
    project_id: int
    rule_id: UUID = Field(
        sa_column=sa.Column(sa.ForeignKey("notification_rules.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(max_length=16)
    destination_type: str = Field(max_length=16)
    payload: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    idempotency_key: str = Field(max_length=64, unique=True)
    status: str = Field(default=OutboxStatus.PENDING.value, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    lease_until: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    leased_by: str | None = Field(default=None, max_length=64)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)


class DeliveryAttemptRow(SQLModel, table=True):
    """One attempt to deliver an outbox row: when, what the receiver answered, what happened next."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (sa.Index("ix_delivery_attempts_notification", "notification_id", "attempt"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    notification_id: UUID = Field(
        sa_column=sa.Column(sa.ForeignKey("notification_outbox.id", ondelete="CASCADE"), nullable=False)
    )
    attempt: int
    started_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    finished_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    outcome: str = Field(max_length=16)
    status_code: int | None = None
    error: str | None = Field(default=None, sa_type=sa.Text)


def _on_postgres(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


# --- alert claims ----------------------------------------------------------------------------------------


def _due(alerts: sa.FromClause, now: datetime) -> sa.ColumnElement[bool]:
    """§2.11 due, and not under another worker's live claim."""
    c = alerts.c
    snoozed = sa.and_(c.state == "snoozed", c.snooze_until.is_not(None), c.snooze_until > now)
    return sa.and_(
        c.enabled.is_(True),
        c.state != "broken",
        sa.or_(c.next_check_at.is_(None), c.next_check_at <= now),
        sa.not_(snoozed),
        sa.or_(c.claimed_until.is_(None), c.claimed_until <= now),
    )


def claim_due_alerts(
    engine: Engine, *, now: datetime, worker: str, lease_until: datetime, limit: int
) -> list[AlertRow]:
    """Claim up to ``limit`` due alerts for ``worker`` until ``lease_until``.

    Oldest slot first (never-checked first), interleaved across projects: each project's k-th due alert
    comes before any project's (k+1)-th, so one busy project cannot starve the others.
    """
    alerts = AlertRow.__table__  # type: ignore[attr-defined]
    ranked = (
        sa.select(
            alerts.c.id,
            func.row_number()
            .over(
                partition_by=alerts.c.project_id,
                order_by=(alerts.c.next_check_at.asc().nulls_first(), alerts.c.id),
            )
            .label("turn"),
        )
        .where(_due(alerts, now))
        .subquery("ranked")
    )
    candidate = alerts.alias("candidate")
    # The due condition is repeated on the locked alias and on the UPDATE so PostgreSQL re-checks it
    # against rows another worker committed while this statement ran.
    pick = (
        sa.select(candidate.c.id)
        .join(ranked, ranked.c.id == candidate.c.id)
        .where(_due(candidate, now))
        .order_by(ranked.c.turn, candidate.c.next_check_at.asc().nulls_first(), candidate.c.id)
        .limit(limit)
    )
    if _on_postgres(engine):
        pick = pick.with_for_update(of=candidate, skip_locked=True)
    claim = (
        sa.update(alerts)
        .where(alerts.c.id.in_(pick), _due(alerts, now))
        .values(claimed_until=lease_until, claimed_by=worker)
        .returning(*alerts.c)
    )
    # Loaded by the ORM, not constructed: validating thousands of rows the database just wrote would cost
    # a third of a large cycle's Python time.
    with Session(engine, expire_on_commit=False) as session:
        claimed = list(session.scalars(select(AlertRow).from_statement(claim)))
        session.commit()
    return sorted(claimed, key=lambda row: (row.next_check_at is not None, row.next_check_at))


def release_claims(engine: Engine, worker: str, alert_ids: Iterable[UUID]) -> None:
    """Give back claims not used (a cycle stopped early, a result discarded) so others may check now."""
    ids = list(alert_ids)
    if not ids:
        return
    alerts = AlertRow.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(
            sa.update(alerts)
            .where(alerts.c.id.in_(ids), alerts.c.claimed_by == worker)
            .values(claimed_until=None, claimed_by=None)
        )


def project_names(engine: Engine, project_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(project_ids))
    if not ids:
        return {}
    with Session(engine) as session:
        query = select(Project.id, Project.name).where(col(Project.id).in_(ids))
        return {project_id: name for project_id, name in session.exec(query) if project_id is not None}


# --- saving checks ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckWrite:
    """Everything one check commits: the alert's new columns (the same names for every write), its event
    row's columns (id included), and the notification to fan out to the alert's rules of
    ``notification_kind`` (one outbox row each)."""

    alert_id: UUID
    project_id: int
    version: int  # as claimed: a different value at save time means the alert was edited
    columns: dict[str, Any]
    event: dict[str, Any]
    notification_kind: str | None = None
    notification_payload: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class DeliveryLease:
    """Leases the notifications a save enqueues to ``worker`` until ``until``: their first attempt starts
    at the commit, so that worker sends them without claiming them first."""

    worker: str
    until: datetime


@dataclass(frozen=True, slots=True)
class SavedChecks:
    saved: list[UUID]
    discarded: list[UUID]
    notifications: int
    leased: list[ClaimedDelivery] = field(default_factory=list)  # with a DeliveryLease


def save_checks(
    engine: Engine,
    worker: str,
    writes: Sequence[CheckWrite],
    now: datetime,
    *,
    enqueued_at: datetime | None = None,
    lease: DeliveryLease | None = None,
) -> SavedChecks:
    """Commit a batch of checks in one transaction; each alert is saved only if it is still claimed by
    ``worker`` at the version it was evaluated at, else its result is discarded.

    The claim is released with the save. Quiet check rows beyond the newest 10 of each saved alert are
    pruned in the same transaction. Notifications are stamped ``enqueued_at`` (default ``now``, the
    check's time): a long cycle commits them well after it started, and delivery latency counts from here.
    With a ``lease`` they are enqueued already leased, and returned ready to send.
    """
    if not writes:
        return SavedChecks([], [], 0)
    with engine.begin() as connection:
        saved_ids = _compare_and_set(connection, worker, writes, now)
        saved = [write for write in writes if write.alert_id in saved_ids]
        if saved:
            events = AlertEventRow.__table__  # type: ignore[attr-defined]
            connection.execute(sa.insert(events), [write.event for write in saved])
        outbox_rows = _enqueue_notifications(connection, saved, enqueued_at or now, lease)
        _prune_quiet_checks(connection, [write.alert_id for write in saved if _quiet(write.event)])
    discarded = [write.alert_id for write in writes if write.alert_id not in saved_ids]
    release_claims(engine, worker, discarded)
    leased = _with_destinations(engine, [OutboxRow(**row) for row in outbox_rows]) if lease else []
    return SavedChecks([write.alert_id for write in saved], discarded, len(outbox_rows), leased)


def _compare_and_set(
    connection: Connection, worker: str, writes: Sequence[CheckWrite], now: datetime
) -> set[UUID]:
    """Write each alert's columns if it is still claimed by ``worker`` at its version; the ids written.

    Two statements for the batch, not one per alert: one ``executemany`` UPDATE marks the rows it writes
    with a token of this save in ``claimed_by`` (an executemany's row count cannot say which rows matched),
    and one ``UPDATE … RETURNING`` clears the token and names them. The token never outlives the
    transaction, and the rows it marks stay locked (written) until the commit.
    """
    alerts = AlertRow.__table__  # type: ignore[attr-defined]
    names = list(writes[0].columns)
    if any(list(write.columns) != names for write in writes):
        raise ValueError("every write of a batch sets the same columns")
    token = f"saving:{uuid4().hex}"
    compare_and_set = (
        sa.update(alerts)
        .where(
            alerts.c.id == sa.bindparam("w_id"),
            alerts.c.version == sa.bindparam("w_version"),
            alerts.c.claimed_by == worker,
        )
        .values(
            {name: sa.bindparam(f"w_{name}") for name in names}
            | {"updated_at": now, "claimed_until": None, "claimed_by": token}
        )
    )
    connection.execute(
        compare_and_set,
        [
            {"w_id": write.alert_id, "w_version": write.version}
            | {f"w_{name}": value for name, value in write.columns.items()}
            for write in writes
        ],
    )
    written = connection.execute(
        sa.update(alerts)
        .where(alerts.c.id.in_([write.alert_id for write in writes]), alerts.c.claimed_by == token)
        .values(claimed_by=None)
        .returning(alerts.c.id)
    )
    return set(written.scalars())


def _quiet(event: dict[str, Any]) -> bool:
    return (
        event["kind"] == "check"
        and event["error_message"] is None
        and event["state_before"] == event["state_after"]
    )


def _enqueue_notifications(
    connection: Connection, writes: Sequence[CheckWrite], now: datetime, lease: DeliveryLease | None
) -> list[dict[str, Any]]:
    notifying = [write for write in writes if write.notification_kind is not None]
    if not notifying:
        return []
    rules = NotificationRule.__table__  # type: ignore[attr-defined]
    rules_of: dict[tuple[UUID, str], list[tuple[UUID, str]]] = {}
    for rule_id, alert_id, kind, type_ in connection.execute(
        sa.select(rules.c.id, rules.c.alert_id, rules.c.kind, rules.c.type).where(
            rules.c.alert_id.in_([write.alert_id for write in notifying])
        )
    ):
        rules_of.setdefault((alert_id, kind), []).append((rule_id, type_))
    rows = []
    for write in notifying:
        assert write.notification_kind is not None and write.notification_payload is not None
        for rule_id, destination_type in rules_of.get((write.alert_id, write.notification_kind), []):
            outbox_id = uuid4()
            rows.append(
                {
                    "id": outbox_id,
                    "alert_id": write.alert_id,
                    "project_id": write.project_id,
                    "rule_id": rule_id,
                    "kind": write.notification_kind,
                    "destination_type": destination_type,
                    "payload": write.notification_payload,
                    # The key is fixed here, at commit: every retry, by any worker, sends the same one.
                    "idempotency_key": str(outbox_id),
                    "next_attempt_at": now,
                    "created_at": now,
                }
                | _lease_columns(lease)
            )
    if rows:
        connection.execute(sa.insert(OutboxRow.__table__), rows)  # type: ignore[attr-defined]
    return rows


def _lease_columns(lease: DeliveryLease | None) -> dict[str, Any]:
    if lease is None:
        return {"status": OutboxStatus.PENDING.value, "attempts": 0}
    return {
        "status": OutboxStatus.DELIVERING.value,
        "attempts": 1,
        "lease_until": lease.until,
        "leased_by": lease.worker,
    }


def _prune_quiet_checks(connection: Connection, alert_ids: Sequence[UUID]) -> None:
    if not alert_ids:
        return
    events = AlertEventRow.__table__  # type: ignore[attr-defined]
    quiet = sa.and_(
        events.c.alert_id.in_(alert_ids),
        events.c.kind == "check",
        events.c.error_message.is_(None),
        events.c.state_before == events.c.state_after,
    )
    ranked = (
        sa.select(
            events.c.id,
            func.row_number()
            .over(
                partition_by=events.c.alert_id,
                order_by=(events.c.created_at.desc(), events.c.id.desc()),
            )
            .label("newness"),
        )
        .where(quiet)
        .subquery()
    )
    stale = sa.select(ranked.c.id).where(ranked.c.newness > QUIET_CHECKS_KEPT)
    connection.execute(sa.delete(events).where(events.c.id.in_(stale)))


# --- outbox deliveries -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """An outbox row under this worker's lease, with where it goes."""

    notification: OutboxRow
    rule: NotificationRule
    integration: Integration | None  # Slack: the registered workspace (bot token)


def recover_interrupted(engine: Engine, now: datetime) -> int:
    """Make deliveries whose lease expired (their worker died mid-send) pending again, same key, and record
    the interrupted attempt. Returns how many were recovered."""
    outbox = OutboxRow.__table__  # type: ignore[attr-defined]
    expired = sa.and_(outbox.c.status == OutboxStatus.DELIVERING.value, outbox.c.lease_until <= now)
    if not _any(engine, outbox, expired):
        return 0
    with Session(engine) as session:
        rows = session.execute(
            sa.update(outbox)
            .where(expired)
            .values(status=OutboxStatus.PENDING.value, next_attempt_at=now, lease_until=None, leased_by=None)
            .returning(outbox.c.id, outbox.c.attempts)
        ).all()
        session.add_all(
            DeliveryAttemptRow(
                notification_id=notification_id,
                attempt=attempts,
                started_at=now,
                finished_at=now,
                outcome=AttemptOutcome.INTERRUPTED.value,
                error="Delivery interrupted (worker stopped); retried with the same idempotency key.",
            )
            for notification_id, attempts in rows
        )
        session.commit()
    return len(rows)


def claim_deliveries(
    engine: Engine, *, now: datetime, worker: str, lease_until: datetime, limit: int
) -> list[ClaimedDelivery]:
    """Lease up to ``limit`` due pending notifications, oldest first; each lease counts one attempt."""
    outbox = OutboxRow.__table__  # type: ignore[attr-defined]
    pending = sa.and_(outbox.c.status == OutboxStatus.PENDING.value, outbox.c.next_attempt_at <= now)
    if not _any(engine, outbox, pending):
        return []
    pick = sa.select(outbox.c.id).where(pending).order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit)
    if _on_postgres(engine):
        pick = pick.with_for_update(skip_locked=True)
    claim = (
        sa.update(outbox)
        .where(outbox.c.id.in_(pick), pending)
        .values(
            status=OutboxStatus.DELIVERING.value,
            lease_until=lease_until,
            leased_by=worker,
            attempts=outbox.c.attempts + 1,
        )
        .returning(*outbox.c)
    )
    # Loaded by the ORM, not constructed: constructing is most of a claim's Python time.
    with Session(engine, expire_on_commit=False) as session:
        leased = list(session.scalars(select(OutboxRow).from_statement(claim)))
        session.commit()
    return _with_destinations(engine, leased)


def _with_destinations(engine: Engine, leased: Sequence[OutboxRow]) -> list[ClaimedDelivery]:
    """Leased rows with their rules (and Slack integrations), oldest first."""
    if not leased:
        return []
    with Session(engine) as session:
        rules = {
            rule.id: rule
            for rule in session.exec(
                select(NotificationRule).where(col(NotificationRule.id).in_([row.rule_id for row in leased]))
            )
        }
        integration_ids = {
            int(rule.config["slack_workspace_id"])
            for rule in rules.values()
            if rule.type == "slack" and str(rule.config.get("slack_workspace_id", "")).isdigit()
        }
        in_ids = select(Integration).where(col(Integration.id).in_(integration_ids))
        integrations = {row.id: row for row in session.exec(in_ids)} if integration_ids else {}
    claimed = []
    for row in sorted(leased, key=lambda row: (row.next_attempt_at, row.id)):
        rule = rules.get(row.rule_id)
        if rule is None:  # deleted after the lease: the cascade removes the row too
            continue
        workspace = str(rule.config.get("slack_workspace_id", ""))
        integration = integrations.get(int(workspace)) if workspace.isdigit() else None
        claimed.append(ClaimedDelivery(row, rule, integration))
    return claimed


def _any(engine: Engine, table: sa.Table, condition: sa.ColumnElement[bool]) -> bool:
    """Whether a row matches, read first: on SQLite an UPDATE takes the write lock even when it matches
    nothing, and a delivery pass with nothing to do would queue behind (and hold up) the check cycle."""
    match = sa.select(sa.literal(1)).select_from(table).where(condition).limit(1)
    with engine.connect() as connection:
        return connection.execute(match).first() is not None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """The end of one attempt, and what becomes of the notification."""

    notification_id: UUID
    attempt: int
    started_at: datetime
    finished_at: datetime
    outcome: AttemptOutcome
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None = None  # RETRY only


def finish_deliveries(engine: Engine, worker: str, records: Sequence[AttemptRecord]) -> None:
    """Record the attempts of a leased batch and move each notification on, in one transaction.

    A notification moves on only while this worker still holds its lease: if the lease expired and another
    worker took it over, that worker owns the outcome, and the attempt is only recorded (it happened).
    """
    if not records:
        return
    try:
        _finish(engine, worker, records)
    except sa.exc.IntegrityError:
        # An alert (and with it its notifications) was deleted while an attempt ran: record the others.
        for record in records:
            with suppress(sa.exc.IntegrityError):
                _finish(engine, worker, [record])


def _finish(engine: Engine, worker: str, records: Sequence[AttemptRecord]) -> None:
    outbox = OutboxRow.__table__  # type: ignore[attr-defined]
    with Session(engine) as session:
        for record in records:
            session.execute(
                sa.update(outbox)
                .where(
                    outbox.c.id == record.notification_id,
                    outbox.c.leased_by == worker,
                    outbox.c.status == OutboxStatus.DELIVERING.value,
                )
                .values(**_outcome_columns(record))
            )
        session.add_all(
            DeliveryAttemptRow(
                notification_id=record.notification_id,
                attempt=record.attempt,
                started_at=record.started_at,
                finished_at=record.finished_at,
                outcome=record.outcome.value,
                status_code=record.status_code,
                error=record.error,
            )
            for record in records
        )
        session.commit()


def _outcome_columns(record: AttemptRecord) -> dict[str, Any]:
    status = {
        AttemptOutcome.DELIVERED: OutboxStatus.DELIVERED,
        AttemptOutcome.RETRY: OutboxStatus.PENDING,
        AttemptOutcome.DEAD: OutboxStatus.DEAD,
    }[record.outcome]
    values: dict[str, Any] = {
        "status": status.value,
        "lease_until": None,
        "leased_by": None,
        "last_status_code": record.status_code,
        "last_error": record.error,
    }
    if record.outcome is AttemptOutcome.DELIVERED:
        values["delivered_at"] = record.finished_at
    if record.next_attempt_at is not None:
        values["next_attempt_at"] = record.next_attempt_at
    return values


def prune_finished_deliveries(engine: Engine, before: datetime) -> int:
    """Delete delivered and dead notifications created before ``before``, their attempts with them (the
    foreign key cascades). Pending and in-flight ones are kept whatever their age: nothing is lost."""
    outbox = OutboxRow.__table__  # type: ignore[attr-defined]
    finished = (OutboxStatus.DELIVERED.value, OutboxStatus.DEAD.value)
    with engine.begin() as connection:
        result = connection.execute(
            sa.delete(outbox).where(outbox.c.status.in_(finished), outbox.c.created_at < before)
        )
    return int(result.rowcount)


def list_deliveries(
    engine: Engine, alert_id: UUID, *, status: str | None, limit: int, offset: int
) -> tuple[int, list[OutboxRow], dict[UUID, list[DeliveryAttemptRow]]]:
    """One page of an alert's notifications, newest first, with each one's attempts (oldest first)."""
    conditions: list[Any] = [OutboxRow.alert_id == alert_id]
    if status is not None:
        conditions.append(OutboxRow.status == status)
    with Session(engine) as session:
        total = session.exec(select(func.count()).select_from(OutboxRow).where(*conditions)).one()
        rows = list(
            session.exec(
                select(OutboxRow)
                .where(*conditions)
                .order_by(col(OutboxRow.created_at).desc(), col(OutboxRow.id))
                .limit(limit)
                .offset(offset)
            )
        )
        attempts: dict[UUID, list[DeliveryAttemptRow]] = {row.id: [] for row in rows}
        if rows:
            for attempt in session.exec(
                select(DeliveryAttemptRow)
                .where(col(DeliveryAttemptRow.notification_id).in_(list(attempts)))
                .order_by(col(DeliveryAttemptRow.attempt), col(DeliveryAttemptRow.finished_at))
            ):
                attempts[attempt.notification_id].append(attempt)
    return total, rows, attempts
