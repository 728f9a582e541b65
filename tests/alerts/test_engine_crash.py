"""Crash safety with real processes. The engine (``logs-mcp alerts check``) is killed with SIGKILL (a) mid-
cycle, right after a firing check committed its notification and before any delivery, and (b) while a
delivery is in flight at a receiver that holds the request. A restarted engine then delivers every
notification with the key it was committed with, answered exactly once per key, and checks no slot twice.

Delivery is at least once on the wire: the request the dead process had sent in (b) is sent again, with
the same ``Idempotency-Key``, so a receiver that honours the key acts on it once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from logs_mcp.alerts.outbox import Deliveries
from logs_mcp.alerts.windows import floor_to_grid
from logs_mcp.store import state as state_store
from logs_mcp.store.state import utcnow

from .engine_processes import (
    FIVE_MINUTES,
    PROJECT_ID,
    EngineState,
    SeededLogs,
    assert_each_notification_delivered_once,
    engine_env,
    kill,
    run_check,
    start_check,
    wait_for,
)
from .engine_rig import fresh_state_url
from .webhook_receiver import Receiver

LEASE_SECONDS = 1.0  # claims and delivery leases of the killed engine expire this soon
QUIET_ALERTS = 40  # keeps the killed cycle busy long after the first commit
HOLD_SECONDS = 5.0  # how long the receiver holds the request in flight at the kill


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture(params=["sqlite", "postgres"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EngineState]:
    with fresh_state_url(request.param, tmp_path) as url:
        engine = state_store.make_engine(url)
        try:
            yield EngineState(engine, url)
        finally:
            engine.dispose()


def test_killed_mid_cycle_after_a_fire_committed(
    seeded_logs: SeededLogs, state: EngineState, receiver: Receiver
) -> None:
    (firing,) = state.create_alerts(1, "checkout", receiver.url)
    quiet = state.create_alerts(QUIET_ALERTS, "quiet", receiver.url)
    state.make_due([firing], seeded_logs.slot(1))  # the oldest slot is claimed first
    state.make_due(quiet, seeded_logs.slot(0))
    data_dir = seeded_logs.data_dirs[0]
    env = engine_env(state.url, check_claim_batch=1, check_claim_lease_seconds=LEASE_SECONDS)

    engine = start_check(data_dir, env)
    wait_for(state.outbox, "the fire to be committed", engine)
    kill(engine)

    # Killed mid-cycle: alerts are left unchecked, so the delivery pass (after the cycle) never started.
    unchecked = [row.id for row in state.alerts_rows().values() if row.last_checked_at is None]
    assert unchecked, "the cycle ended before the kill"
    assert receiver.arrived == []
    (committed,) = state.outbox()
    assert (committed.kind, committed.status, committed.attempts) == ("firing", "pending", 0)
    wait_for_leases_to_expire(state)

    summary = run_check(data_dir, engine_env(state.url))

    assert summary["checked"] >= len(unchecked) and summary["delivered"] >= 1
    assert_each_notification_delivered_once(state, receiver.delivered_keys())
    assert committed.idempotency_key in receiver.delivered_keys()
    assert_no_slot_checked_twice(state, expected_alerts=QUIET_ALERTS + 1)


@pytest.mark.parametrize("state", ["sqlite"], indirect=True)  # the delivery lease on PostgreSQL: test_outbox
def test_killed_while_a_delivery_is_in_flight(
    seeded_logs: SeededLogs, state: EngineState, receiver: Receiver
) -> None:
    alert = state.create_alerts(1, "checkout", receiver.url)
    state.make_due(alert, seeded_logs.slot(0))
    receiver.script = [HOLD_SECONDS]  # the first request is held, never answered
    data_dir = seeded_logs.data_dirs[0]
    env = engine_env(state.url, delivery_lease_seconds=LEASE_SECONDS)

    engine = start_check(data_dir, env)
    (held_key,) = wait_for(lambda: receiver.arrived[:1], "a delivery to reach the receiver", engine)
    kill(engine)

    in_flight = next(row for row in state.outbox() if row.idempotency_key == held_key)
    assert (in_flight.status, in_flight.attempts) == ("delivering", 1)
    wait_for_leases_to_expire(state)

    summary = run_check(data_dir, env)

    assert summary["delivered"] >= 1
    assert_each_notification_delivered_once(state, receiver.delivered_keys())
    assert receiver.arrived.count(held_key) == 2  # sent again after the crash, same key
    page = Deliveries(state.engine).list(PROJECT_ID, str(in_flight.alert_id), url="http://t/")
    history = next(delivery for delivery in page.results if delivery.id == in_flight.id).attempt_history
    assert [attempt.outcome for attempt in history] == ["interrupted", "delivered"]
    assert_no_slot_checked_twice(state, expected_alerts=1)


def wait_for_leases_to_expire(state: EngineState) -> None:
    """Until every claim and delivery lease the killed engine held has run out."""
    leases: list[datetime] = [row.claimed_until for row in state.alerts_rows().values() if row.claimed_until]
    leases += [row.lease_until for row in state.outbox() if row.lease_until]
    if leases:
        time.sleep(max(0.0, (max(leases) - utcnow()).total_seconds()) + 0.05)


def assert_no_slot_checked_twice(state: EngineState, expected_alerts: int) -> None:
    """Every alert checked, none claimed any more, and no two checks of one alert in the same 5-minute
    slot: a slot's check schedules the next one after it, so a second check in the slot would be the
    same slot evaluated again. (A test that runs across a slot boundary checks the next slot too.)"""
    checks = state.checks()
    rows = state.alerts_rows()
    assert len(checks) == len(rows) == expected_alerts
    for alert_id, events in checks.items():
        slots = [floor_to_grid(event.created_at, FIVE_MINUTES) for event in events]
        assert len(set(slots)) == len(slots), f"alert {alert_id} checked twice in one slot: {slots}"
        row = rows[alert_id]
        assert row.last_checked_at == events[-1].created_at
        assert row.next_check_at is not None and row.next_check_at > row.last_checked_at
        assert row.claimed_by is None
