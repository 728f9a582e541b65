"""The alert workers of a logs-mcp process: the check loop (every ``check_tick_seconds``) and the outbox
deliverer (a pass every ``delivery_poll_seconds`` for retries and leases that expired), run as anyio tasks
in the lifespan of ``logs-mcp serve`` and of ``logs-mcp stdio`` on the embedded store.

A check save that commits notifications hands them over at once: while the delivery loop waits, the save
enqueues them already leased to it (no claim between the commit and the first send; on SQLite a deliverer
claiming later would also queue behind the cycle's next statements), and the loop sends them while the
cycle goes on. One batch is sent at a time, so no lease runs out while its notification waits behind a
slow receiver's.

Both do their blocking work (SQL, ClickHouse) in worker threads. On shutdown the check cycle in progress
stops after its current batch; claims it did not use are released or expire.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from logs_mcp.alerts.engine import CheckEngine, Clock, CycleReport
from logs_mcp.alerts.notifiers.notifier import Notifier
from logs_mcp.alerts.notifiers.payloads import AlertNotification
from logs_mcp.alerts.notifiers.senders import DeliveryTarget
from logs_mcp.alerts.outbox import DeliverOne, DeliveryReport, OutboxDeliverer, SendResult
from logs_mcp.services import Services
from logs_mcp.store.alert_tables import Integration, NotificationRule
from logs_mcp.store.engine_store import ClaimedDelivery, DeliveryLease
from logs_mcp.store.state import utcnow

log = logging.getLogger("logs_mcp.alerts")

# How long the check cycle's thread waits, after handing a batch over, for its sends to finish: otherwise
# the next batch's Python work holds the GIL the sends need (10,000 alerts, idle: delivery p99 109 -> 56 ms,
# the cycle 4.4 -> 5.0 s; docs/benchmarks.md, "Engine"). Bounded, so a slow receiver cannot hold checks up.
HAND_OVER_WAIT_SECONDS = 0.1


def notifier_delivery(notifier: Notifier) -> DeliverOne:
    """The deliverer's "send one" over the notifiers (Slack, webhook, Discord, Teams)."""

    async def deliver(
        notification: AlertNotification,
        rule: NotificationRule,
        integration: Integration | None,
        *,
        idempotency_key: str,
    ) -> SendResult:
        target = DeliveryTarget.of_rule(rule, integration)
        return await notifier.send(notification, target, idempotency_key=idempotency_key)

    return deliver


@dataclass
class AlertWorkers:
    engine: CheckEngine
    deliverer: OutboxDeliverer
    tick_seconds: float
    poll_seconds: float
    _hand_over: MemoryObjectSendStream[list[ClaimedDelivery]] | None = None  # while running
    _waiting: bool = False  # the delivery loop waits for a hand-over (or its next pass)
    _committed_meanwhile: bool = False  # notifications committed while the delivery loop was sending
    _handed_over_sent: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def of(cls, services: Services, deliver: DeliverOne, clock: Clock = utcnow) -> AlertWorkers:
        settings = services.settings
        engine = CheckEngine(services.state_engine, services.log_store, settings, clock=clock)
        deliverer = OutboxDeliverer(
            services.state_engine, settings, deliver, clock=clock, worker=engine.worker
        )
        workers = cls(engine, deliverer, settings.check_tick_seconds, settings.delivery_poll_seconds)
        engine.hand_over = workers
        return workers

    async def run(self) -> None:
        """Run both loops until cancelled."""
        stop = threading.Event()
        hand_over, handed_over = anyio.create_memory_object_stream[list[ClaimedDelivery]](math.inf)
        async with anyio.create_task_group() as group:
            group.start_soon(self._check_loop, stop)
            group.start_soon(self._delivery_loop, handed_over)
            self._hand_over = hand_over
            try:
                await anyio.sleep_forever()
            finally:
                self._hand_over = None
                stop.set()  # before the group waits for the cycle's thread: it ends after this batch

    async def check_once(self) -> CycleReport:
        return await anyio.to_thread.run_sync(self.engine.run_cycle)

    async def _check_loop(self, stop: threading.Event) -> None:
        while True:
            try:
                await anyio.to_thread.run_sync(self.engine.run_cycle, stop)
            except Exception:  # a database outage must not stop the loop; the next tick retries
                log.exception("alert check cycle failed")
            await anyio.sleep(self.tick_seconds)

    def lease(self) -> DeliveryLease | None:
        """Runs in the check cycle's worker thread before a save that notifies: while the delivery loop waits,
        the save leases its notifications to it, and :meth:`committed` hands them over with no claim in
        between. A busy loop leaves them pending and claims them when its batch is done. Without a delivery
        loop (``alerts check``) the pass after the cycle sends them."""
        if self._hand_over is None or not self._waiting:
            return None
        return self.deliverer.lease()

    def committed(self, leased: list[ClaimedDelivery]) -> None:
        """Runs in the check cycle's worker thread right after a save that notified committed: hand over
        what it leased or, if the loop was busy at the save and waits now, claim them first. (Leased to a
        loop that stopped meanwhile, they are sent once their lease runs out.)"""
        hand_over = self._hand_over
        if hand_over is None:
            return
        if not leased and not self._waiting:
            self._committed_meanwhile = True
            return
        try:
            leased = leased or self.deliverer.claim()
            if not leased:
                return
            self._handed_over_sent.clear()
            anyio.from_thread.run_sync(hand_over.send_nowait, leased)
            self._handed_over_sent.wait(HAND_OVER_WAIT_SECONDS)
        except Exception:  # the check cycle goes on; their lease runs out and a delivery pass sends them
            log.exception("handing committed notifications over failed")

    async def _delivery_loop(self, handed_over: MemoryObjectReceiveStream[list[ClaimedDelivery]]) -> None:
        """Sends what is handed over as it comes, and every ``poll_seconds`` runs a pass (retries due,
        expired leases, pruning)."""
        next_pass = 0.0
        while True:
            claimed = None
            if not self._committed_meanwhile:
                self._waiting = True
                with anyio.move_on_after(max(0.0, next_pass - anyio.current_time())):
                    claimed = await handed_over.receive()
                self._waiting = False
            try:
                if claimed is not None or self._committed_meanwhile:
                    self._committed_meanwhile = False
                    try:
                        await self.deliverer.send_due(DeliveryReport(), claimed)
                    finally:
                        self._handed_over_sent.set()
                if anyio.current_time() >= next_pass:
                    await self.deliverer.deliver_pass()
                    next_pass = anyio.current_time() + self.poll_seconds
            except Exception:
                log.exception("notification delivery failed")


async def run_alert_workers(services: Services) -> None:
    """The background tasks of a process that owns ``services``, until cancelled."""
    async with Notifier(services.settings) as notifier:
        await AlertWorkers.of(services, notifier_delivery(notifier)).run()


async def check_now(services: Services) -> tuple[CycleReport, DeliveryReport]:
    """One check cycle and one delivery pass (``logs-mcp alerts check``)."""
    async with Notifier(services.settings) as notifier:
        workers = AlertWorkers.of(services, notifier_delivery(notifier))
        cycle = await workers.check_once()
        delivery = await workers.deliverer.deliver_pass()
    return cycle, delivery
