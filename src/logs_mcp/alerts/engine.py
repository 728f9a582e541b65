"""The check engine: one cycle claims the due alerts, counts their windows in batches, lets the pure state
machine decide, and commits each decision with its event row and outbox notifications (alerts.md §2.9–
§2.12, generation [A]; README "Alerts").

* **Claims.** Due alerts are claimed a batch at a time under a lease (``store.engine_store``); a worker
  that dies leaves claims that expire, and two replicas never hold the same alert.
* **Batching.** Claimed alerts sharing a slot are counted together whatever their window shapes
  (``store.alert_counts.window_counts_for_alerts``): those filtering only on services and severities in
  one statement over the per-minute counts, the others in statements of ``check_query_batch`` distinct
  filters over the rows; identical filters are counted once. A failed statement is split in halves until
  the failing alert is alone, so one bad filter fails one alert.
* **Slots.** A check is anchored on its slot (``next_check_at``) and the save is a compare-and-set on the
  claim and the alert's version: each slot is evaluated at most once, and a check of an alert edited or
  deleted meanwhile is discarded.
* **Outbox.** The new state, the ``check`` row and one outbox row per notification rule of the decided kind
  commit together; ``last_notified_at`` moves then, so cooldown holds while delivery retries. A batch is
  saved in transactions of at most ``check_notifying_per_save`` notifying checks, each handed to the
  deliverer as it commits.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from typing import Any, Protocol
from uuid import UUID, uuid4

from pydantic_core import PydanticCustomError
from sqlalchemy.engine import Engine

from logs_mcp.alerts.check_failures import classify_failure
from logs_mcp.alerts.explain import explain_check
from logs_mcp.alerts.models import parse_alert_filters
from logs_mcp.alerts.notifiers.payloads import AlertNotification, NotificationKind
from logs_mcp.alerts.service import event_columns, rule_of, status_columns, status_of
from logs_mcp.alerts.state_machine import (
    CheckDecision,
    CheckResult,
    FailureCode,
    Notification,
    WindowCounts,
    break_for_config,
    evaluate_check,
)
from logs_mcp.alerts.windows import check_anchor
from logs_mcp.config import Settings
from logs_mcp.store import engine_store
from logs_mcp.store.alert_counts import CountSource, WindowCheck, window_counts_for_alerts
from logs_mcp.store.alert_tables import AlertRow
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.engine_store import CheckWrite, ClaimedDelivery, DeliveryLease
from logs_mcp.store.filters import LogFilters
from logs_mcp.store.state import utcnow

Clock = Callable[[], datetime]


def worker_name() -> str:
    """Identifies a worker in claims and leases: host, process and a random suffix (a restarted process
    with a recycled pid is still a different worker)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid4().hex[:8]}"


@dataclass
class CycleReport:
    """What one check cycle did. ``fired``/``resolved`` count notifications committed to the outbox
    decisions (cooldown-suppressed ones are not counted); ``errored`` counts failed checks."""

    checked: int = 0
    fired: int = 0
    resolved: int = 0
    errored: int = 0
    broken: int = 0
    discarded: int = 0
    notifications: int = 0
    queries: int = 0
    lags_seconds: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            "checked": self.checked,
            "fired": self.fired,
            "resolved": self.resolved,
            "errored": self.errored,
            "broken": self.broken,
            "discarded": self.discarded,
            "notifications": self.notifications,
            "queries": self.queries,
        }


@dataclass(frozen=True, slots=True)
class _Pending:
    """A claimed alert with valid filters, waiting for its counts."""

    alert: AlertRow
    filters: LogFilters
    date_to: datetime


class HandOver(Protocol):
    """A delivery loop that takes each save's notifications as it commits (``runner.AlertWorkers``)."""

    def lease(self) -> DeliveryLease | None:
        """Before a save that notifies: the lease to enqueue its notifications under, or None to leave
        them pending for a later claim."""
        ...

    def committed(self, leased: list[ClaimedDelivery]) -> None:
        """After that save's commit: send what it leased (nothing if it leased nothing)."""
        ...


class CheckEngine:
    """Runs check cycles against one log store and one state store. Thread-safe for one caller at a time."""

    def __init__(
        self,
        state_engine: Engine,
        log_store: LogStore,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        worker: str | None = None,
        count_windows: Callable[..., dict[str, tuple[int, ...]]] = window_counts_for_alerts,
    ) -> None:
        self._state = state_engine
        self._logs = log_store
        self._settings = settings
        self._clock = clock
        self.worker = worker or worker_name()
        self._count_windows = count_windows
        # Takes each save's notifications (in the cycle's thread), so a deliverer sends them while a long
        # cycle goes on.
        self.hand_over: HandOver | None = None

    def run_cycle(self, stop: threading.Event | None = None) -> CycleReport:
        """Check every alert due now, a claimed batch at a time, until none is left (or ``stop`` is set).
        Each batch is claimed and decided at its own time: a long cycle's last batches must not be stamped
        before checks another replica committed meanwhile (an alert's events are ordered by that time)."""
        report = CycleReport()
        seen: set[UUID] = set()
        while stop is None or not stop.is_set():
            now = self._clock()
            lease = timedelta(seconds=self._settings.check_claim_lease_seconds)
            claimed = engine_store.claim_due_alerts(
                self._state,
                now=now,
                worker=self.worker,
                lease_until=now + lease,
                limit=self._settings.check_claim_batch,
            )
            fresh = [alert for alert in claimed if alert.id not in seen]
            # An alert discarded earlier in this cycle (edited meanwhile) waits for the next cycle.
            engine_store.release_claims(
                self._state, self.worker, [alert.id for alert in claimed if alert.id in seen]
            )
            if not fresh:
                break
            seen.update(alert.id for alert in fresh)
            self._check_batch(fresh, now, report)
        return report

    # --- one claimed batch -----------------------------------------------------------------------------

    def _check_batch(self, alerts: Sequence[AlertRow], now: datetime, report: CycleReport) -> None:
        writes: list[CheckWrite] = []
        decisions: dict[UUID, CheckDecision] = {}
        pending: list[_Pending] = []
        parsed: dict[str, LogFilters] = {}  # alerts of identical filters share one validation
        for alert in alerts:
            text = json.dumps(alert.filters, sort_keys=True)
            try:
                filters = parsed.get(text) or parsed.setdefault(text, parse_alert_filters(alert.filters))
            except PydanticCustomError as error:
                writes.extend(self._broken_config(alert, _config_reason(alert.filters, error), now))
                continue
            pending.append(_Pending(alert, filters, check_anchor(alert.next_check_at, now)))
        names = engine_store.project_names(self._state, {alert.project_id for alert in alerts})
        for alert, result in self._count(pending, report):
            decision = evaluate_check(status_of(alert), rule_of(alert), result, now)
            decisions[alert.id] = decision
            writes.append(self._write(alert, decision, names.get(alert.project_id, ""), now))
        slots = {alert.id: alert.next_check_at or now for alert in alerts}
        for chunk in save_chunks(writes, self._settings.check_notifying_per_save):
            self._save(chunk, decisions, slots, now, report)

    def _save(
        self,
        writes: Sequence[CheckWrite],
        decisions: Mapping[UUID, CheckDecision],
        slots: Mapping[UUID, datetime],
        now: datetime,
        report: CycleReport,
    ) -> None:
        hand_over = self.hand_over
        notifying = any(write.notification_kind is not None for write in writes)
        lease = hand_over.lease() if hand_over is not None and notifying else None
        saved = engine_store.save_checks(
            self._state, self.worker, writes, now, enqueued_at=self._clock(), lease=lease
        )
        committed_at = self._clock()
        if saved.notifications and hand_over is not None:
            hand_over.committed(saved.leased)
        report.discarded += len(saved.discarded)
        report.notifications += saved.notifications
        for alert_id in saved.saved:
            report.lags_seconds.append((committed_at - slots[alert_id]).total_seconds())
            if alert_id not in decisions:
                report.broken += 1  # broken_config
                continue
            decision = decisions[alert_id]
            report.checked += 1
            report.fired += decision.notification is Notification.FIRE
            report.resolved += decision.notification is Notification.RESOLVE
            report.errored += decision.failure is not None
            report.broken += decision.notification is Notification.BROKEN

    def _broken_config(self, alert: AlertRow, reason: str, now: datetime) -> list[CheckWrite]:
        """§2.9 broken config: straight to broken, no notification, a ``broken_config`` row."""
        transition = break_for_config(status_of(alert), reason, now)
        if transition is None:
            return []
        return [
            CheckWrite(
                alert_id=alert.id,
                project_id=alert.project_id,
                version=alert.version,
                columns=status_columns(transition.status),
                event=event_columns(alert.id, transition.event),
            )
        ]

    def _write(
        self, alert: AlertRow, decision: CheckDecision, project_name: str, now: datetime
    ) -> CheckWrite:
        event = decision.event(explain_check(decision))
        if event is None:
            raise ValueError("a claimed alert is always evaluated")
        kind = payload = None
        if decision.notification is not Notification.NONE:
            notification = AlertNotification.for_check(
                decision, alert, project_name=project_name, base_url=self._settings.base_url
            )
            kind = NotificationKind.of(decision.notification).value
            payload = notification.model_dump(mode="json")
        return CheckWrite(
            alert_id=alert.id,
            project_id=alert.project_id,
            version=alert.version,
            columns=status_columns(decision.after),
            event=event_columns(alert.id, event),
            notification_kind=kind,
            notification_payload=payload,
        )

    # --- counting --------------------------------------------------------------------------------------

    def _count(self, pending: Sequence[_Pending], report: CycleReport) -> list[tuple[AlertRow, CheckResult]]:
        """Every pending alert with its M window counts or its classified failure."""
        # Alerts of one statement share their slot: the statement then reads just the rows of that one
        # look-back (an alert far behind gets statements of its own). Checks the per-minute counts answer
        # cost no SQL of their own and share one statement; the others are cut into statements of at most
        # ``check_query_batch`` distinct conditions (checks of identical filters are counted once).
        slots: dict[datetime, list[WindowCheck]] = {}
        for item in pending:
            slots.setdefault(item.date_to, []).append(_window_check(item))
        size = self._settings.check_query_batch
        chunks: list[list[WindowCheck]] = []
        for checks in slots.values():
            by_source: dict[CountSource, list[WindowCheck]] = {}
            for check in checks:
                by_source.setdefault(check.source, []).append(check)
            chunks.append([check for check in checks if check.by_minute])
            by_rows = [group for group in by_source.values() if not group[0].by_minute]
            chunks += [list(chain(*by_rows[start : start + size])) for start in range(0, len(by_rows), size)]
        alerts = {str(item.alert.id): item.alert for item in pending}
        results: list[tuple[AlertRow, CheckResult]] = []
        for chunk in chunks:
            if chunk:
                results += [(alerts[key], result) for key, result in self._count_chunk(chunk, report)]
        return results

    def _count_chunk(
        self, chunk: Sequence[WindowCheck], report: CycleReport
    ) -> list[tuple[str, CheckResult]]:
        started = time.perf_counter()
        report.queries += 1
        try:
            counts = self._count_windows(self._logs, chunk, settings=self._query_settings())
        except Exception as error:  # every query error is classified, none escapes (§2.9)
            elapsed = _milliseconds(started)
            failure = classify_failure(error, elapsed)
            if len(chunk) == 1 or failure.code in (FailureCode.SERVER_BUSY, FailureCode.CANCELLED):
                # A busy or cancelling server fails every alert alike; splitting would only add load.
                return [(check.key, failure) for check in chunk]
            middle = len(chunk) // 2
            return self._count_chunk(chunk[:middle], report) + self._count_chunk(chunk[middle:], report)
        elapsed = _milliseconds(started)
        return [
            (
                check.key,
                WindowCounts(
                    date_to=check.date_to,
                    window=timedelta(minutes=check.window_minutes),
                    cadence=timedelta(minutes=check.cadence_minutes),
                    counts=counts[check.key],
                    query_duration_ms=elapsed,
                ),
            )
            for check in chunk
        ]

    def _query_settings(self) -> Mapping[str, Any]:
        return {
            "max_execution_time": self._settings.check_query_timeout_seconds,
            "max_bytes_to_read": self._settings.check_max_bytes_to_read,
        }


def save_chunks(writes: Sequence[CheckWrite], notifying_per_save: int) -> Iterator[list[CheckWrite]]:
    """A batch's writes in saves of at most ``notifying_per_save`` notifying checks each (quiet ones ride
    along). Each save is handed to the deliverer at its commit, and a hand-over is sent in one burst whose
    last notification waits for all the others: smaller bursts keep delivery close to the commit (10,000
    alerts: docs/benchmarks.md, "Delivery"). Each check is still saved whole, with its own rows."""
    chunk: list[CheckWrite] = []
    notifying = 0
    for write in writes:
        if write.notification_kind is not None:
            if notifying == notifying_per_save:
                yield chunk
                chunk, notifying = [], 0
            notifying += 1
        chunk.append(write)
    if chunk:
        yield chunk


def _window_check(item: _Pending) -> WindowCheck:
    alert = item.alert
    return WindowCheck(
        key=str(alert.id),
        project_id=alert.project_id,
        filters=item.filters,
        date_to=item.date_to,
        window_minutes=alert.window_minutes,
        cadence_minutes=alert.check_interval_minutes,
        periods=alert.evaluation_periods,
    )


def _milliseconds(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _config_reason(filters: object, error: PydanticCustomError) -> str:
    """§2.9 broken-config reasons."""
    if not isinstance(filters, Mapping):
        return f"filters must be a JSON object, got {type(filters).__name__}"
    return error.message()
