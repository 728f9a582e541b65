"""The check engine on real parts: logs in the session's chDB store, alert state in SQLite and PostgreSQL,
a scripted clock ticking on the 5-minute grid (alerts.md §2.3–§2.12, §3.3, §4.2)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from clickhouse_connect.driver.exceptions import DatabaseError

from logs_mcp.alerts.engine import CheckEngine, save_chunks
from logs_mcp.alerts.simulate import SimulateService
from logs_mcp.services import Services
from logs_mcp.store import engine_store
from logs_mcp.store.alert_counts import window_counts_for_alerts
from logs_mcp.store.engine_store import CheckWrite, ClaimedDelivery, DeliveryLease

from .engine_rig import EngineRig, fresh_state, make_rig

M = timedelta(minutes=1)
BUSY = (
    "Code: 202. DB::Exception: Too many simultaneous queries. Maximum: 100. (TOO_MANY_SIMULTANEOUS_QUERIES)"
)


@pytest.fixture(params=["sqlite", "postgres"])
def rig(request: pytest.FixtureRequest, services: Services, tmp_path: Path) -> Iterator[EngineRig]:
    with fresh_state(request.param, tmp_path) as state:
        yield make_rig(services, state)


def test_fires_and_resolves_on_the_slot_grid(rig: EngineRig) -> None:
    t0 = rig.clock.now
    alert = rig.create_alert(threshold_count=5)
    rules = rig.add_rules(alert)
    rig.burst(t0 + 10 * M, minutes=5, per_minute=2)  # 10 logs in [t0+10, t0+15)

    rig.run_slots(t0, t0 + 30 * M)

    assert rig.transitions(alert) == [(t0 + 15 * M, "firing"), (t0 + 20 * M, "not_firing")]
    assert rig.notifications(alert) == [(t0 + 15 * M, "firing"), (t0 + 20 * M, "resolved")]
    outbox = rig.outbox(alert)
    assert [(row.kind, row.rule_id) for row in outbox] == [
        ("firing", rules["firing"]),
        ("resolved", rules["resolved"]),
    ]
    assert all(row.idempotency_key == str(row.id) and row.status == "pending" for row in outbox)
    assert outbox[0].payload["result_count"] == 10
    row = rig.row(alert)
    assert (row.state, row.consecutive_failures) == ("not_firing", 0)
    assert row.last_checked_at == t0 + 30 * M
    assert row.next_check_at == t0 + 35 * M
    assert row.last_notified_at == t0 + 20 * M  # moved when the resolve was committed
    assert row.claimed_by is None and row.claimed_until is None
    fired = next(event for event in rig.events(alert) if event.state_after == "firing")
    assert (fired.result_count, fired.threshold_breached) == (10, True)
    assert fired.explanation is not None and "Fire notification sent." in fired.explanation


def test_n_of_m_needs_n_breaching_windows_of_the_last_m(rig: EngineRig) -> None:
    t0 = rig.clock.now
    alert = rig.create_alert(threshold_count=1, evaluation_periods=3, datapoints_to_alarm=2)
    rig.add_rules(alert)
    rig.ingest([t0 + 2 * M, t0 + 3 * M])  # window [t0, t0+5)
    rig.ingest([t0 + 12 * M, t0 + 13 * M])  # window [t0+10, t0+15)

    rig.run_slots(t0, t0 + 30 * M)

    # t0+5: 1 of 3 (waiting); t0+15: windows [2, 0, 2] → 2 of 3, fire; t0+20: [0, 2, 0] → resolve.
    assert rig.notifications(alert) == [(t0 + 15 * M, "firing"), (t0 + 20 * M, "resolved")]
    waiting = [event for event in rig.events(alert) if event.created_at == t0 + 5 * M]
    assert waiting and "1 of the last 3 check(s) breached (need 2 of 3)" in (waiting[0].explanation or "")


def test_cooldown_suppresses_notifications_but_not_state_changes(rig: EngineRig) -> None:
    t0 = rig.clock.now
    alert = rig.create_alert(threshold_count=5, cooldown_minutes=30)
    rig.add_rules(alert)
    rig.burst(t0 + 5 * M, minutes=5, per_minute=2)
    rig.burst(t0 + 15 * M, minutes=5, per_minute=2)
    rig.burst(t0 + 40 * M, minutes=5, per_minute=2)

    rig.run_slots(t0, t0 + 55 * M)

    assert rig.transitions(alert) == [
        (t0 + 10 * M, "firing"),
        (t0 + 15 * M, "not_firing"),  # resolve suppressed (cooldown until t0+40)
        (t0 + 20 * M, "firing"),  # fire suppressed
        (t0 + 25 * M, "not_firing"),
        (t0 + 45 * M, "firing"),  # cooldown over: notified
        (t0 + 50 * M, "not_firing"),  # suppressed again
    ]
    assert rig.notifications(alert) == [(t0 + 10 * M, "firing"), (t0 + 45 * M, "firing")]
    assert rig.row(alert).last_notified_at == t0 + 45 * M


def test_snoozed_alerts_wait_and_their_first_check_after_expiry_counts_the_scheduled_slot(
    rig: EngineRig,
) -> None:
    t0 = rig.clock.now
    alert = rig.create_alert(threshold_count=5)
    rig.add_rules(alert)
    rig.cycle_at(t0)
    rig.clock.now = t0 + M
    rig.alerts.update(rig.project_id, alert, {"snooze_until": (t0 + 12 * M).isoformat()}, partial=True)
    rig.burst(t0 + 10 * M, minutes=10, per_minute=2)

    assert rig.cycle_at(t0 + 5 * M)["checked"] == 0
    assert rig.cycle_at(t0 + 10 * M)["checked"] == 0
    # Expired: checked again, anchored on its slot (t0+5, §4.2), so [t0, t0+5) has nothing yet.
    assert rig.cycle_at(t0 + 15 * M)["checked"] == 1
    assert rig.cycle_at(t0 + 20 * M)["fired"] == 1

    assert rig.transitions(alert)[-2:] == [(t0 + 15 * M, "not_firing"), (t0 + 20 * M, "firing")]
    assert rig.notifications(alert) == [(t0 + 20 * M, "firing")]


def test_counted_failures_break_the_alert_after_five_and_reset_resumes_checks(rig: EngineRig) -> None:
    t0 = rig.clock.now
    alert = rig.create_alert(threshold_count=5)
    rig.add_rules(alert)
    rig.burst(t0 - 30 * M, minutes=60, per_minute=4)
    # A real ClickHouse limit: any read is too much, so every check fails as "query_performance".
    starved = rig.new_engine(settings=rig.settings.model_copy(update={"check_max_bytes_to_read": 1}))

    reports = [rig.cycle_at(t0 + k * 5 * M, starved) for k in range(5)]

    assert [report["errored"] for report in reports] == [1] * 5
    row = rig.row(alert)
    assert (row.state, row.consecutive_failures) == ("broken", 5)
    assert rig.notifications(alert) == [(t0, "errored"), (t0 + 20 * M, "broken")]
    errors = [event.error_message for event in rig.events(alert) if event.error_message]
    assert errors == ["Query is too expensive. Try narrower filters or a shorter window."] * 5
    assert rig.outbox(alert)[-1].payload["error_message"] == errors[0]

    assert rig.cycle_at(t0 + 25 * M)["checked"] == 0  # broken alerts are not checked

    rig.alerts.reset(rig.project_id, alert)
    assert rig.cycle_at(t0 + 30 * M)["fired"] == 1  # 20 logs per window: the query works again
    row = rig.row(alert)
    assert (row.state, row.consecutive_failures) == ("firing", 0)


def test_transient_failures_are_recorded_but_never_count(rig: EngineRig) -> None:
    t0 = rig.clock.now
    alert = rig.create_alert(threshold_count=5)
    rig.add_rules(alert)

    def busy(*_args: Any, **_kwargs: Any) -> dict[str, tuple[int, ...]]:
        raise DatabaseError(BUSY)

    engine = rig.new_engine(count_windows=busy)
    for k in range(7):
        assert rig.cycle_at(t0 + k * 5 * M, engine)["errored"] == 1

    row = rig.row(alert)
    assert (row.state, row.consecutive_failures) == ("not_firing", 0)
    assert rig.outbox(alert) == []
    messages = {event.error_message for event in rig.events(alert)}
    assert messages == {"PostHog is temporarily busy. The alert check will retry automatically."}


def test_one_failing_alert_fails_alone_and_its_batch_is_split(rig: EngineRig) -> None:
    t0 = rig.clock.now
    healthy, failing = rig.create_alert(), rig.create_alert(threshold_count=7)
    rig.burst(t0 - 5 * M, minutes=5, per_minute=2)
    calls: list[int] = []

    def fail_for_one(store: Any, checks: Any, **kwargs: Any) -> dict[str, tuple[int, ...]]:
        calls.append(len(checks))
        if any(check.key == failing for check in checks):
            raise DatabaseError(
                "Code: 159. DB::Exception: Timeout exceeded: elapsed 30.1 s. (TIMEOUT_EXCEEDED)"
            )
        return window_counts_for_alerts(store, checks, **kwargs)

    report = rig.cycle_at(t0, rig.new_engine(count_windows=fail_for_one))

    assert sorted(calls) == [1, 1, 2] and report["queries"] == 3
    assert (report["checked"], report["errored"], report["fired"]) == (2, 1, 1)
    assert rig.row(healthy).state == "firing"
    assert rig.row(failing).consecutive_failures == 1


def test_a_batch_of_every_shape_is_counted_in_two_statements_with_each_alert_s_own_answers(
    rig: EngineRig,
) -> None:
    t0 = rig.clock.now
    rig.burst(t0 - 60 * M, minutes=60, per_minute=1)
    rig.burst(t0 - 20 * M, minutes=20, per_minute=1, severity="info")
    shapes = [(5, 1, 1, 4), (10, 3, 2, 12), (15, 5, 3, 12), (60, 10, 3, 40)]  # window, M, N, threshold
    body = {"key": "message", "value": "boom", "operator": "icontains", "type": "log"}
    filters = [
        {"severityLevels": ["error"]},
        {"serviceNames": ["checkout"]},
        {"filterGroup": {"type": "AND", "values": [{"type": "AND", "values": [body]}]}},
    ]
    alerts = [
        rig.create_alert(
            filters=chosen,
            threshold_count=threshold,
            window_minutes=window,
            evaluation_periods=periods,
            datapoints_to_alarm=needed,
        )
        for chosen in filters
        for window, periods, needed, threshold in shapes
    ]
    statements: list[set[bool]] = []

    def compared_with_each_alone(store: Any, checks: Any, **kwargs: Any) -> dict[str, tuple[int, ...]]:
        statements.append({check.by_minute for check in checks})
        together = window_counts_for_alerts(store, checks, **kwargs)
        assert together == {
            check.key: window_counts_for_alerts(store, [check])[check.key] for check in checks
        }
        return together

    report = rig.cycle_at(t0, rig.new_engine(count_windows=compared_with_each_alone))

    # Service and severity lists: one statement over the per-minute counts; a body search: one over rows.
    assert sorted(map(sorted, statements)) == [[False], [True]] and report["queries"] == 2
    assert report["checked"] == len(alerts) and 0 < report["fired"] < len(alerts)


def test_filters_that_no_longer_validate_break_the_alert_at_once(rig: EngineRig) -> None:
    alert = rig.create_alert()
    rig.add_rules(alert)
    with rig.state.begin() as connection:
        connection.execute(
            sa.text("UPDATE alerts SET filters = :filters, consecutive_failures = 2 WHERE id = :id"),
            {"filters": '{"filterGroup": {"type": "XOR", "values": []}}', "id": _db_id(rig, alert)},
        )

    report = rig.cycle_at(rig.clock.now)

    assert (report["checked"], report["broken"]) == (0, 1)
    row = rig.row(alert)
    assert (row.state, row.consecutive_failures) == ("broken", 2)  # counter kept (§2.9)
    [event] = rig.events(alert)
    assert event.kind == "broken_config" and "filterGroup" in (event.error_message or "")
    assert rig.outbox(alert) == []  # no notification for broken config


def test_an_alert_edited_or_deleted_during_its_evaluation_keeps_the_edit(rig: EngineRig) -> None:
    t0 = rig.clock.now
    edited, deleted = rig.create_alert(), rig.create_alert()
    rig.burst(t0 - 5 * M, minutes=5, per_minute=2)

    def edit_meanwhile(store: Any, checks: Any, **kwargs: Any) -> dict[str, tuple[int, ...]]:
        counts = window_counts_for_alerts(store, checks, **kwargs)
        rig.alerts.update(rig.project_id, edited, {"threshold_count": 50}, partial=True)
        rig.alerts.destroy(rig.project_id, deleted)
        return counts

    report = rig.cycle_at(t0, rig.new_engine(count_windows=edit_meanwhile))

    assert (report["checked"], report["discarded"], report["fired"]) == (0, 2, 0)
    row = rig.row(edited)
    assert (row.threshold_count, row.state, row.next_check_at) == (50, "not_firing", None)
    assert row.claimed_by is None  # released: checked again on the next tick
    assert [event.kind for event in rig.events(edited)] == ["threshold_change"]
    assert rig.cycle_at(t0 + M)["checked"] == 1


def test_each_slot_is_evaluated_once_and_quiet_rows_keep_the_newest_ten(rig: EngineRig) -> None:
    t0 = rig.clock.now
    alert = rig.create_alert()

    assert rig.cycle_at(t0)["checked"] == 1
    assert rig.cycle_at(t0)["checked"] == 0
    assert rig.cycle_at(t0 + 4 * M)["checked"] == 0
    rig.run_slots(t0 + 5 * M, t0 + 100 * M)

    events = rig.events(alert)
    assert len(events) == 10 and all(event.kind == "check" for event in events)
    assert [event.created_at for event in events] == [t0 + k * 5 * M for k in range(11, 21)]


def test_claims_are_fair_across_projects_and_expire(rig: EngineRig, services: Services) -> None:
    other = make_rig(services, rig.state)
    ours = [rig.create_alert() for _ in range(3)]
    theirs = [other.create_alert() for _ in range(3)]
    now = rig.clock.now

    first = engine_store.claim_due_alerts(
        rig.state, now=now, worker="crashed", lease_until=now + 5 * M, limit=2
    )
    assert {row.project_id for row in first} == {rig.project_id, other.project_id}

    # The crashed worker never saves: its claims hold until the lease ends, then anyone may check them.
    assert rig.cycle_at(now)["checked"] == 4
    assert rig.cycle_at(now + 4 * M)["checked"] == 0
    assert rig.cycle_at(now + 5 * M)["checked"] == 6
    assert {str(row.id) for row in first} <= set(ours + theirs)


def test_live_engine_and_simulate_agree_on_the_same_logs(rig: EngineRig) -> None:
    t0 = rig.clock.now
    end = t0 + 180 * M
    fields = {
        "threshold_count": 8,
        "window_minutes": 10,
        "evaluation_periods": 3,
        "datapoints_to_alarm": 2,
        "cooldown_minutes": 10,
    }
    alert = rig.create_alert(**fields)
    rig.add_rules(alert)
    for start, minutes, per_minute in [(20, 6, 3), (40, 3, 4), (70, 15, 1), (95, 20, 2), (150, 4, 5)]:
        rig.burst(t0 + start * M, minutes=minutes, per_minute=per_minute)
    rig.burst(t0 + 30 * M, minutes=60, per_minute=1, severity="info")  # filtered out

    rig.run_slots(t0, end)
    rig.clock.now = end
    simulated = SimulateService(rig.services.log_store, rig.settings, rig.alerts, clock=rig.clock).simulate(
        rig.project_id,
        {
            "filters": {"severityLevels": ["error"]},
            "threshold_operator": "above",
            "date_from": t0.isoformat(),
            **fields,
        },
    )

    buckets = simulated.model_dump(mode="json")["buckets"]
    simulated_notes = [
        (bucket["timestamp"], {"fire": "firing", "resolve": "resolved"}[bucket["notification"]])
        for bucket in buckets
        if bucket["notification"] != "none"
    ]
    live_notes = [(at.isoformat(), kind) for at, kind in rig.notifications(alert)]
    assert live_notes == simulated_notes and len(live_notes) >= 4
    simulated_changes, state = [], "not_firing"
    for bucket in buckets:
        if bucket["state"] != state:
            simulated_changes.append((bucket["timestamp"], bucket["state"]))
            state = bucket["state"]
    assert [(at.isoformat(), state) for at, state in rig.transitions(alert)] == simulated_changes


def _db_id(rig: EngineRig, alert_id: str) -> Any:
    """The id as the dialect stores it (PostgreSQL: uuid; SQLite: 32 hex digits)."""
    parsed = uuid.UUID(alert_id)
    return parsed if rig.state.dialect.name == "postgresql" else parsed.hex


def test_each_claimed_batch_is_stamped_with_its_own_time(rig: EngineRig) -> None:
    """A long cycle's later batches are decided at their own time, not the cycle's start: another replica
    may have committed checks of the same alerts meanwhile, and an alert's events are ordered by time."""
    t0 = rig.clock.now
    first, second = rig.create_alert(threshold_count=5), rig.create_alert(threshold_count=5)
    moments = iter(t0 + k * timedelta(seconds=1) for k in range(1000))

    def ticking() -> datetime:
        rig.clock.now = next(moments)
        return rig.clock.now

    settings = rig.settings.model_copy(update={"check_claim_batch": 1})
    engine = CheckEngine(rig.state, rig.services.log_store, settings, clock=ticking)
    assert engine.run_cycle().summary()["checked"] == 2

    stamps = sorted(event.created_at for alert in (first, second) for event in rig.events(alert))
    assert len(stamps) == 2 and stamps[0] < stamps[1]


@dataclass
class RecordingHandOver:
    """A delivery loop that is always waiting: it takes every save's lease and records what came."""

    lease_until: datetime
    handed: list[list[ClaimedDelivery]] = field(default_factory=list)

    def lease(self) -> DeliveryLease:
        return DeliveryLease("deliverer", self.lease_until)

    def committed(self, leased: list[ClaimedDelivery]) -> None:
        self.handed.append(leased)


def test_a_batch_is_saved_and_handed_over_in_bursts_already_leased(rig: EngineRig) -> None:
    t0 = rig.clock.now
    firing = [rig.create_alert(threshold_count=5) for _ in range(5)]
    quiet = [rig.create_alert(threshold_count=1000) for _ in range(3)]
    for alert in firing + quiet:
        rig.add_rules(alert)
    rig.burst(t0 + 10 * M, minutes=5, per_minute=2)
    engine = rig.new_engine(settings=rig.settings.model_copy(update={"check_notifying_per_save": 2}))
    hand_over = RecordingHandOver(lease_until=t0 + 16 * M)
    engine.hand_over = hand_over
    rig.run_slots(t0, t0 + 10 * M)

    assert rig.cycle_at(t0 + 15 * M, engine)["checked"] == 8

    assert [len(leased) for leased in hand_over.handed] == [2, 2, 1]  # one burst per save
    sent = [item for leased in hand_over.handed for item in leased]
    assert sorted(str(item.notification.alert_id) for item in sent) == sorted(firing)
    assert all(item.rule.kind == "firing" and item.rule.id == item.notification.rule_id for item in sent)
    for alert in firing:
        [row] = rig.outbox(alert)
        assert (row.status, row.attempts, row.leased_by) == ("delivering", 1, "deliverer")
        assert row.lease_until == t0 + 16 * M
    assert all(rig.outbox(alert) == [] for alert in quiet)


def test_save_chunks_bound_the_notifying_checks_of_each_save() -> None:
    def write(notifying: bool) -> CheckWrite:
        kind = "firing" if notifying else None
        return CheckWrite(uuid.uuid4(), 1, 1, {}, {}, notification_kind=kind, notification_payload={})

    writes = [write(flag) for flag in (True, False, True, True, False, False, True, False)]

    chunks = list(save_chunks(writes, 2))

    assert [write for chunk in chunks for write in chunk] == writes  # all of them, in order
    assert [[w.notification_kind is not None for w in chunk] for chunk in chunks] == [
        [True, False, True],
        [True, False, False, True, False],
    ]
    assert list(save_chunks(writes[4:6], 1)) == [writes[4:6]]  # quiet checks alone: one save
    assert list(save_chunks([], 3)) == []
