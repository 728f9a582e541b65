"""Two engine replicas on one PostgreSQL: two ``logs-mcp serve`` processes (check loop ticking every 0.2 s),
each on its own chDB copy of the same logs, over alerts whose slots advance wave after wave. Each alert's
slot is evaluated exactly once (one check row, the window count of that slot), each notification is
committed once and delivered once, and both replicas take a share of the claims."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from logs_mcp.store import state as state_store
from logs_mcp.store.state import utcnow

from .engine_processes import (
    EngineState,
    SeededLogs,
    assert_each_notification_delivered_once,
    engine_env,
    serving,
    wait_for,
    worker_pid,
)
from .engine_rig import fresh_state_url
from .webhook_receiver import Receiver

ALERTS = 40
WAVES = (3, 2, 1)  # slots grid − 5k min: fire, resolve, fire on the "flappy" logs


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def state(tmp_path: Path) -> Iterator[EngineState]:
    with fresh_state_url("postgres", tmp_path) as url:
        engine = state_store.make_engine(url)
        try:
            yield EngineState(engine, url)
        finally:
            engine.dispose()


def test_two_replicas_evaluate_each_slot_once_and_share_the_work(
    seeded_logs: SeededLogs, state: EngineState, receiver: Receiver
) -> None:
    alerts = state.create_alerts(ALERTS, "flappy", receiver.url)
    state.make_due(alerts, utcnow() + timedelta(days=1))  # idle until the first wave
    env = engine_env(state.url, check_tick_seconds=0.2, check_claim_batch=2, delivery_poll_seconds=0.2)
    claimants: set[str] = set()

    def wave_checked(waves: int) -> bool:
        claimants.update(state.claimed_by())
        checks = state.checks()
        return len(checks) == ALERTS and all(len(rows) >= waves for rows in checks.values())

    with serving(seeded_logs.data_dirs, env) as replicas:
        for done, k in enumerate(WAVES, start=1):
            state.make_due(alerts, seeded_logs.slot(k))
            wait_for(lambda done=done: wave_checked(done), f"wave {done} to be checked")
        outbox = ALERTS * 3  # fire, resolve, fire
        wait_for(lambda: len(receiver.delivered_keys()) >= outbox, "the notifications to be delivered")

    expected = [seeded_logs.flappy_count(k) for k in WAVES]
    for alert_id, checks in state.checks().items():
        assert [check.result_count for check in checks] == expected, alert_id
        assert [check.state_after for check in checks] == ["firing", "not_firing", "firing"]
    committed = state.outbox()
    assert len(committed) == ALERTS * 3
    for alert_id in alerts:
        kinds = [row.kind for row in committed if row.alert_id == alert_id]
        assert kinds == ["firing", "resolved", "firing"], alert_id
    assert_each_notification_delivered_once(state, receiver.delivered_keys())
    assert {worker_pid(worker) for worker in claimants} == {replica.pid for replica in replicas}
