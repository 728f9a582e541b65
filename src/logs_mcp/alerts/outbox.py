"""The outbox deliverer: sends the notifications the check engine committed, at least once, each with the
idempotency key fixed at commit (README "Alerts", alerts.md §2.12).

A pass first makes deliveries whose lease expired pending again (their worker died mid-send), then leases
due notifications a batch at a time (``delivery_lease_seconds``), sends them side by side, and records
the attempts of a batch in one transaction: delivered; or retried after an exponential, jittered back-off
that honours ``Retry-After``; or dead, when the receiver refused for good or ``delivery_max_attempts`` ran
out, with the last error. The alert workers also lease a check batch's notifications right after it
commits and hand them to :meth:`OutboxDeliverer.send_due` (``runner.AlertWorkers``).

Also here: the deliveries of an alert as the API shows them (``…/alerts/{id}/deliveries/``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol
from uuid import UUID

import anyio
import anyio.to_thread
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session

from logs_mcp.alerts.engine import Clock, worker_name
from logs_mcp.alerts.models import DEFAULT_PAGE_SIZE, Page
from logs_mcp.alerts.notifiers.payloads import AlertNotification
from logs_mcp.config import Settings
from logs_mcp.errors import InvalidInput, NotFound
from logs_mcp.store import engine_store
from logs_mcp.store.alert_tables import Integration, NotificationRule, get_alert
from logs_mcp.store.engine_store import (
    AttemptOutcome,
    AttemptRecord,
    ClaimedDelivery,
    DeliveryAttemptRow,
    DeliveryLease,
    OutboxRow,
    OutboxStatus,
)
from logs_mcp.store.state import utcnow

PRUNE_EVERY = timedelta(hours=1)
"""How often a deliverer deletes finished notifications past their retention (any replica may)."""


class SendResult(Protocol):
    """What one send attempt answered (the notifiers' ``DeliveryResult``)."""

    @property
    def ok(self) -> bool: ...
    @property
    def status_code(self) -> int | None: ...
    @property
    def retry_after_seconds(self) -> float | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def permanent(self) -> bool: ...


class DeliverOne(Protocol):
    """Send one notification to one rule's destination, once; never raises for network trouble."""

    async def __call__(
        self,
        notification: AlertNotification,
        rule: NotificationRule,
        integration: Integration | None,
        *,
        idempotency_key: str,
    ) -> SendResult: ...


@dataclass(frozen=True, slots=True)
class _SenderCrashed:
    """A sender bug counts as a retryable failure; the message names the exception type, not its text."""

    error: str
    ok: bool = False
    status_code: int | None = None
    retry_after_seconds: float | None = None
    permanent: bool = False


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    recovered: int = 0  # interrupted deliveries made pending again
    pruned: int = 0  # finished notifications deleted after the retention period
    latencies_seconds: list[float] | None = None  # commit → delivered, when asked for

    @property
    def failed(self) -> int:
        return self.retried + self.dead

    def add(self, record: AttemptRecord, created_at: datetime) -> None:
        if record.outcome is AttemptOutcome.DELIVERED:
            self.delivered += 1
            if self.latencies_seconds is not None:
                self.latencies_seconds.append((record.finished_at - created_at).total_seconds())
        elif record.outcome is AttemptOutcome.RETRY:
            self.retried += 1
        else:
            self.dead += 1


class OutboxDeliverer:
    def __init__(
        self,
        state_engine: Engine,
        settings: Settings,
        deliver: DeliverOne,
        *,
        clock: Clock = utcnow,
        worker: str | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._state = state_engine
        self._settings = settings
        self._deliver = deliver
        self._clock = clock
        self.worker = worker or worker_name()
        self._jitter = jitter
        self._next_prune_at: datetime | None = None  # the first pass prunes
        self._limiter = anyio.CapacityLimiter(settings.delivery_concurrency)

    async def deliver_pass(self, *, measure_latency: bool = False) -> DeliveryReport:
        """Send every notification due now; returns what happened. At most once per ``PRUNE_EVERY``, the
        pass also deletes finished notifications past ``delivery_retention_days``."""
        report = DeliveryReport(latencies_seconds=[] if measure_latency else None)
        report.pruned = await anyio.to_thread.run_sync(self._prune_if_due)
        report.recovered = await anyio.to_thread.run_sync(
            engine_store.recover_interrupted, self._state, self._clock()
        )
        await self.send_due(report)
        return report

    async def send_due(self, report: DeliveryReport, claimed: list[ClaimedDelivery] | None = None) -> None:
        """Send ``claimed`` (by default, lease a batch first), then lease and send batch after batch until
        one comes back short: a batch is leased only when the one before is done, so no lease runs out
        while its notification waits for its turn."""
        while True:
            if claimed is None:
                claimed = await anyio.to_thread.run_sync(self.claim)
            await self.send(claimed, report)
            if len(claimed) < self.batch:
                return
            claimed = None

    @property
    def batch(self) -> int:
        return self._settings.delivery_batch

    def claim(self) -> list[ClaimedDelivery]:
        """Lease the next ``delivery_batch`` due notifications, oldest first. Blocking (SQL): call it from
        a worker thread."""
        lease = self.lease()
        return engine_store.claim_deliveries(
            self._state, now=self._clock(), worker=lease.worker, lease_until=lease.until, limit=self.batch
        )

    def lease(self) -> DeliveryLease:
        """A delivery lease to this worker, from now."""
        until = self._clock() + timedelta(seconds=self._settings.delivery_lease_seconds)
        return DeliveryLease(self.worker, until)

    async def send(self, claimed: Sequence[ClaimedDelivery], report: DeliveryReport) -> None:
        """Send leased notifications side by side (at most ``delivery_concurrency`` at once), then record
        every attempt's outcome in one transaction."""
        records: list[AttemptRecord] = []
        try:
            async with anyio.create_task_group() as group:
                for item in claimed:
                    group.start_soon(self._attempt, item, records)
        finally:
            if records:
                with anyio.CancelScope(shield=True):  # on shutdown too: what was sent is not sent again
                    await anyio.to_thread.run_sync(
                        engine_store.finish_deliveries, self._state, self.worker, records
                    )
        created = {item.notification.id: item.notification.created_at for item in claimed}
        for record in records:
            report.add(record, created[record.notification_id])

    def _prune_if_due(self) -> int:
        now = self._clock()
        if self._next_prune_at is not None and now < self._next_prune_at:
            return 0
        self._next_prune_at = now + PRUNE_EVERY
        retention = timedelta(days=self._settings.delivery_retention_days)
        return engine_store.prune_finished_deliveries(self._state, now - retention)

    async def _attempt(self, item: ClaimedDelivery, records: list[AttemptRecord]) -> None:
        row = item.notification
        async with self._limiter:
            started = self._clock()
            try:
                notification = AlertNotification.model_validate(row.payload)
                result: SendResult = await self._deliver(
                    notification, item.rule, item.integration, idempotency_key=row.idempotency_key
                )
            except Exception as error:  # a sender bug must not stop the other deliveries
                result = _SenderCrashed(error=f"delivery failed unexpectedly ({type(error).__name__})")
            records.append(self._record(row, result, started, self._clock()))

    def _record(
        self, row: OutboxRow, result: SendResult, started: datetime, finished: datetime
    ) -> AttemptRecord:
        outcome, next_attempt_at = AttemptOutcome.DELIVERED, None
        if not result.ok:
            if result.permanent or row.attempts >= self._settings.delivery_max_attempts:
                outcome = AttemptOutcome.DEAD
            else:
                outcome = AttemptOutcome.RETRY
                next_attempt_at = finished + timedelta(
                    seconds=self.retry_delay(row.attempts, result.retry_after_seconds)
                )
        return AttemptRecord(
            notification_id=row.id,
            attempt=row.attempts,
            started_at=started,
            finished_at=finished,
            outcome=outcome,
            status_code=result.status_code,
            error=result.error,
            next_attempt_at=next_attempt_at,
        )

    def retry_delay(self, attempts: int, retry_after_seconds: float | None) -> float:
        """Exponential back-off from the base, capped, with "equal jitter" (half fixed, half random) so
        that many notifications failing together do not retry together; never sooner than Retry-After."""
        settings = self._settings
        exponential = settings.delivery_retry_base_seconds * 2 ** (attempts - 1)
        ceiling = min(settings.delivery_retry_max_seconds, exponential)
        delay = ceiling / 2 + self._jitter() * ceiling / 2
        return float(max(delay, retry_after_seconds or 0.0))


# --- the deliveries of an alert, as the API shows them -------------------------------------------------


class DeliveryAttempt(BaseModel):
    attempt: int = Field(description="1 for the first attempt.")
    started_at: datetime
    finished_at: datetime
    outcome: Literal["delivered", "retry", "dead", "interrupted"]
    status_code: int | None = Field(description="The receiver's HTTP status; null when none came back.")
    error: str | None


class Delivery(BaseModel):
    """One notification of an alert to one destination rule, and how its delivery went."""

    id: UUID
    kind: Literal["firing", "resolved", "broken", "errored"]
    destination_type: str
    hog_function_id: UUID = Field(description="The notification rule it was sent to.")
    status: Literal["pending", "delivering", "delivered", "dead"]
    idempotency_key: str = Field(description="Sent as Idempotency-Key on every attempt; stable.")
    attempts: int
    created_at: datetime = Field(description="When the check committed it.")
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    attempt_history: list[DeliveryAttempt]


DeliveryPage = Page[Delivery]
DELIVERY_STATUSES = tuple(status.value for status in OutboxStatus)


class Deliveries:
    """Reads an alert's deliveries, scoped to its project (another project's alert is "Not found.")."""

    def __init__(self, state_engine: Engine) -> None:
        self._state = state_engine

    def list(
        self,
        project_id: int,
        alert_id: str,
        *,
        status: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
        url: str,
    ) -> DeliveryPage:
        if status is not None and status not in DELIVERY_STATUSES:
            raise InvalidInput(f"Must be one of {list(DELIVERY_STATUSES)}.", attr="status", code="invalid")
        alert_uuid = _uuid(alert_id)
        with Session(self._state) as session:
            if get_alert(session, project_id, alert_uuid) is None:
                raise NotFound("Not found.")
        count, rows, attempts = engine_store.list_deliveries(
            self._state, alert_uuid, status=status, limit=limit, offset=offset
        )
        results = [_delivery(row, attempts[row.id]) for row in rows]
        return DeliveryPage.of(results, count=count, limit=limit, offset=offset, url=url)


def _delivery(row: OutboxRow, attempts: list[DeliveryAttemptRow]) -> Delivery:
    finished = row.status in (OutboxStatus.DELIVERED, OutboxStatus.DEAD)
    return Delivery(
        id=row.id,
        kind=row.kind,
        destination_type=row.destination_type,
        hog_function_id=row.rule_id,
        status=row.status,
        idempotency_key=row.idempotency_key,
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=None if finished else row.next_attempt_at,
        delivered_at=row.delivered_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        attempt_history=[
            DeliveryAttempt.model_validate(attempt, from_attributes=True) for attempt in attempts
        ],
    )


def _uuid(alert_id: str) -> UUID:
    try:
        return UUID(str(alert_id))
    except ValueError:
        raise NotFound("Not found.") from None
