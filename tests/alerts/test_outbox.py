"""The outbox deliverer against a local webhook receiver with injected faults (500, 429 + Retry-After,
timeouts, connection refused for 10 simulated minutes), through the real notifiers; the check engine
commits the notifications; the clock is scripted."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import anyio
import httpx
import pytest
from sqlmodel import Session, col, select

from logs_mcp.alerts.engine import HandOver
from logs_mcp.alerts.notifiers.notifier import Notifier
from logs_mcp.alerts.outbox import Deliveries, DeliveryReport, OutboxDeliverer
from logs_mcp.alerts.runner import AlertWorkers, notifier_delivery
from logs_mcp.services import Services
from logs_mcp.store.engine_store import DeliveryAttemptRow, DeliveryLease

from .engine_rig import EngineRig, fresh_state, make_rig
from .webhook_receiver import Receiver

if TYPE_CHECKING:
    from conftest import TestProject

M = timedelta(minutes=1)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture(params=["sqlite", "postgres"])
def rig(request: pytest.FixtureRequest, services: Services, tmp_path: Path) -> Iterator[EngineRig]:
    with fresh_state(request.param, tmp_path) as state:
        settings = services.settings.model_copy(
            update={
                "allow_private_webhooks": True,
                "delivery_timeout_seconds": 0.5,
                "delivery_max_attempts": 12,
            }
        )
        yield make_rig(services, state, settings)


def deliver(rig: EngineRig, passes: int = 1, step: timedelta = 30 * M / 60) -> DeliveryReport:
    """``passes`` delivery passes, the clock moving ``step`` between them; the reports summed."""

    async def run() -> DeliveryReport:
        total = DeliveryReport()
        async with Notifier(rig.settings) as notifier:
            deliverer = OutboxDeliverer(
                rig.state, rig.settings, notifier_delivery(notifier), clock=rig.clock, jitter=lambda: 0.5
            )
            for _ in range(passes):
                report = await deliverer.deliver_pass()
                total.delivered += report.delivered
                total.retried += report.retried
                total.dead += report.dead
                total.recovered += report.recovered
                total.pruned += report.pruned
                rig.clock.now += step
        return total

    return anyio.run(run)


def fire_and_resolve(rig: EngineRig, url: str, destinations: int = 1) -> str:
    t0 = rig.clock.now
    alert = rig.create_alert(threshold_count=5)
    for _ in range(destinations):
        rig.add_rules(alert, webhook_url=url)
    rig.burst(t0 + 10 * M, minutes=5, per_minute=2)
    rig.run_slots(t0, t0 + 20 * M)
    return alert


def about_to_fire(rig: EngineRig, url: str) -> tuple[datetime, str]:
    """An alert checked up to t0 + 10 min, quiet so far, that fires at the slot t0 + 15 min."""
    t0 = rig.clock.now
    alert = rig.create_alert(threshold_count=5)
    rig.add_rules(alert, webhook_url=url)
    rig.burst(t0 + 10 * M, minutes=5, per_minute=2)
    rig.run_slots(t0, t0 + 10 * M)
    return t0, alert


def test_faults_end_with_each_notification_delivered_once_per_key(rig: EngineRig, receiver: Receiver) -> None:
    alert = fire_and_resolve(rig, receiver.url, destinations=2)
    keys = {row.idempotency_key for row in rig.outbox(alert)}
    assert len(keys) == 4  # fire and resolve, to two destinations
    receiver.script = [(500, {}), (429, {"Retry-After": "120"}), 1.5, (503, {})]

    deliver(rig, passes=3)  # four failures among the first attempts; the 429 waits 2 minutes
    receiver.down()
    deliver(rig, passes=20, step=M / 2)  # 10 simulated minutes of connection refused
    receiver.up()
    deliver(rig, passes=40, step=M)

    delivered = receiver.delivered_keys()
    assert sorted(delivered) == sorted(keys)  # each key delivered exactly once
    rows = rig.outbox(alert)
    assert all(row.status == "delivered" and row.delivered_at is not None for row in rows)
    for key, status, body, signature in receiver.requests:
        assert key in keys
        if status == 0:
            continue
        assert signature == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    page = Deliveries(rig.state).list(rig.project_id, alert, url="http://testserver/deliveries/")
    assert page.count == 4
    history = [attempt for delivery in page.results for attempt in delivery.attempt_history]
    codes = {attempt.status_code for attempt in history}
    assert {500, 429, 503, 200, None} <= codes  # None: timeout and connection refused
    limited = next(d for d in page.results if any(a.status_code == 429 for a in d.attempt_history))
    after_429 = next(a for a in limited.attempt_history if a.status_code == 429)
    next_try = limited.attempt_history[limited.attempt_history.index(after_429) + 1]
    assert next_try.started_at - after_429.finished_at >= timedelta(seconds=120)


def test_a_receiver_that_never_recovers_makes_the_notification_dead(
    rig: EngineRig, receiver: Receiver
) -> None:
    rig.settings = rig.settings.model_copy(update={"delivery_max_attempts": 4})
    alert = fire_and_resolve(rig, receiver.url)
    receiver.script = [(500, {})] * 100

    deliver(rig, passes=30, step=5 * M)

    rows = rig.outbox(alert)
    assert [(row.status, row.attempts, row.last_status_code) for row in rows] == [("dead", 4, 500)] * 2
    assert all((row.last_error or "").startswith("HTTP 500") for row in rows)
    assert receiver.delivered_keys() == []
    assert len(receiver.requests) == 8
    page = Deliveries(rig.state).list(rig.project_id, alert, status="dead", url="http://t/")
    assert [attempt.outcome for attempt in page.results[0].attempt_history] == ["retry"] * 3 + ["dead"]


def test_a_batch_is_sent_as_it_commits_without_waiting_for_a_delivery_pass(
    rig: EngineRig, receiver: Receiver
) -> None:
    t0, alert = about_to_fire(rig, receiver.url)

    async def run() -> None:
        async with Notifier(rig.settings) as notifier:
            deliverer = OutboxDeliverer(rig.state, rig.settings, notifier_delivery(notifier), clock=rig.clock)
            # Ticks and passes an hour apart: only the hand-over after the commit can send in time.
            workers = AlertWorkers(rig.engine, deliverer, tick_seconds=3600, poll_seconds=3600)
            rig.engine.hand_over = workers
            async with anyio.create_task_group() as group:
                group.start_soon(workers.run)
                while not workers._waiting:  # the first pass (and the first, idle, cycle) is over
                    await anyio.sleep(0.01)
                rig.clock.now = t0 + 15 * M
                await anyio.to_thread.run_sync(rig.engine.run_cycle)
                with anyio.fail_after(10):
                    while not receiver.delivered_keys():
                        await anyio.sleep(0.01)
                group.cancel_scope.cancel()

    anyio.run(run)

    [row] = rig.outbox(alert)
    assert receiver.delivered_keys() == [row.idempotency_key]
    assert (row.kind, row.status, row.attempts) == ("firing", "delivered", 1)


def test_an_expired_lease_is_retried_with_the_same_key(rig: EngineRig, receiver: Receiver) -> None:
    from logs_mcp.store import engine_store

    alert = fire_and_resolve(rig, receiver.url)
    now = rig.clock.now
    leased = engine_store.claim_deliveries(
        rig.state, now=now, worker="crashed", lease_until=now + 30 * M / 60, limit=10
    )
    assert len(leased) == 2
    assert deliver(rig).delivered == 0  # held by the crashed worker's lease

    rig.clock.now = now + M
    report = deliver(rig)

    assert (report.recovered, report.delivered) == (2, 2)
    assert sorted(receiver.delivered_keys()) == sorted(row.idempotency_key for row in rig.outbox(alert))
    page = Deliveries(rig.state).list(rig.project_id, alert, url="http://t/")
    assert all([a.outcome for a in d.attempt_history] == ["interrupted", "delivered"] for d in page.results)


def test_a_notification_leased_at_its_commit_by_a_worker_that_died_is_sent_with_the_same_key(
    rig: EngineRig, receiver: Receiver
) -> None:
    t0, alert = about_to_fire(rig, receiver.url)
    lease = DeliveryLease("crashed", t0 + 15 * M + 30 * M / 60)
    rig.engine.hand_over = cast(HandOver, SimpleNamespace(lease=lambda: lease, committed=lambda leased: None))
    rig.cycle_at(t0 + 15 * M)  # fires; the save leases it to a worker that never sends it

    [row] = rig.outbox(alert)
    assert (row.status, row.attempts, row.leased_by) == ("delivering", 1, "crashed")
    assert deliver(rig).delivered == 0  # held by the lease

    rig.clock.now = t0 + 16 * M
    report = deliver(rig)

    assert (report.recovered, report.delivered) == (1, 1)
    assert receiver.delivered_keys() == [row.idempotency_key]
    [delivery] = Deliveries(rig.state).list(rig.project_id, alert, url="http://t/").results
    assert [a.outcome for a in delivery.attempt_history] == ["interrupted", "delivered"]


def test_deliveries_route_pages_an_alerts_deliveries(server_url: str, project: TestProject) -> None:
    headers = {"Authorization": f"Bearer {project.api_key}"}
    base = f"{server_url}/api/projects/{project.id}/logs/alerts"
    created = httpx.post(f"{base}/", json={"filters": {"severityLevels": ["error"]}}, headers=headers)
    alert_id = created.json()["id"]

    page = httpx.get(f"{base}/{alert_id}/deliveries/", headers=headers)
    assert page.status_code == 200
    assert page.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert httpx.get(f"{base}/{alert_id}/deliveries/?status=lost", headers=headers).status_code in (400, 422)
    assert httpx.get(f"{base}/{uuid.uuid4()}/deliveries/", headers=headers).status_code == 404
    assert httpx.get(f"{base}/{alert_id}/deliveries/").status_code == 401


def test_finished_deliveries_are_pruned_after_the_retention_period(
    rig: EngineRig, receiver: Receiver
) -> None:
    alert = fire_and_resolve(rig, receiver.url)
    receiver.script = [(404, {})]  # one of the two is refused for good (dead), the other delivered
    deliver(rig)
    rows = rig.outbox(alert)
    assert sorted(row.status for row in rows) == ["dead", "delivered"]
    oldest, newest = min(row.created_at for row in rows), max(row.created_at for row in rows)
    days = timedelta(days=rig.settings.delivery_retention_days)

    rig.clock.now = oldest + days - M
    assert deliver(rig).pruned == 0
    rig.clock.now = newest + days + M
    assert deliver(rig).pruned == 2

    assert rig.outbox(alert) == []
    with Session(rig.state) as session:
        ids = [row.id for row in rows]
        attempts = select(DeliveryAttemptRow).where(col(DeliveryAttemptRow.notification_id).in_(ids))
        assert session.exec(attempts).all() == []


def test_a_pending_notification_is_never_pruned(rig: EngineRig, receiver: Receiver) -> None:
    alert = fire_and_resolve(rig, receiver.url)
    rig.clock.now += timedelta(days=rig.settings.delivery_retention_days + 1)
    receiver.down()

    report = deliver(rig)

    assert (report.pruned, report.retried) == (0, 2)
    assert [row.status for row in rig.outbox(alert)] == ["pending"] * 2
