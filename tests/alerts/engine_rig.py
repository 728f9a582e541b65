"""A check-engine test rig: real chDB (the session store), a real state store (SQLite or PostgreSQL), a
project of its own in both, a scripted clock, and helpers to ingest logs at chosen instants and read back
what the engine committed."""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from logs_mcp.alerts.engine import CheckEngine
from logs_mcp.alerts.service import AlertService
from logs_mcp.alerts.windows import floor_to_grid
from logs_mcp.config import Settings
from logs_mcp.services import Services
from logs_mcp.store import state as state_store
from logs_mcp.store.alert_tables import AlertDestination, AlertEventRow, AlertRow, NotificationRule
from logs_mcp.store.engine_store import OutboxRow
from logs_mcp.store.state import Project
from postgres_schemas import postgres_schema_url

FIVE_MINUTES = timedelta(minutes=5)
# Project ids of their own, far above what the sequences of the shared stores hand out, so these logs and
# alerts never mix with other tests' (the chDB store is shared by the whole session).
_PROJECT_IDS = itertools.count(7_000_000 + (os.getpid() % 1000) * 1000)


def timeline_start() -> datetime:
    """A 5-minute slot some hours ago: recent enough for ingest and retention, fixed for the test."""
    return floor_to_grid(datetime.now(UTC) - timedelta(hours=8), timedelta(hours=1))


@dataclass
class ScriptedClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class EngineRig:
    services: Services
    state: Engine
    project_id: int
    clock: ScriptedClock
    settings: Settings
    alerts: AlertService = field(init=False)
    engine: CheckEngine = field(init=False)

    def __post_init__(self) -> None:
        self.alerts = AlertService(self.state, self.settings, clock=self.clock)
        self.engine = self.new_engine()

    def new_engine(self, **options: Any) -> CheckEngine:
        settings = options.pop("settings", self.settings)
        return CheckEngine(self.state, self.services.log_store, settings, clock=self.clock, **options)

    # --- logs ---

    def ingest(
        self, instants: Iterable[datetime], *, severity: str = "error", service: str = "checkout"
    ) -> int:
        """One log record at each instant, through the real OTLP decode and column building."""
        records = [
            {"timeUnixNano": str(_nanos(at)), "severityText": severity, "body": {"stringValue": "boom"}}
            for at in instants
        ]
        resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
        body = json.dumps({"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": records}]}]})
        request = self.services.ingest.decode(body.encode(), "application/json", None)
        columns = self.services.ingest.to_columns(self.project_id, request, _nanos(self.clock.now))
        store = self.services.log_store
        store.insert_columns(store.logs_table, columns)
        return len(records)

    def burst(self, start: datetime, minutes: int, per_minute: int, **labels: str) -> int:
        """``per_minute`` logs in each minute of ``[start, start + minutes)``, spread inside the minute."""
        step = timedelta(seconds=60 / per_minute)
        instants = [
            start + timedelta(minutes=minute) + step * index
            for minute in range(minutes)
            for index in range(per_minute)
        ]
        return self.ingest(instants, **labels)

    # --- alerts ---

    def create_alert(self, **fields: Any) -> str:
        payload = {"name": "errors", "filters": {"severityLevels": ["error"]}, "threshold_count": 5} | fields
        return str(self.alerts.create(self.project_id, payload, created_by_key_id=None).id)

    def add_rules(
        self, alert_id: str, destination_type: str = "webhook", **config: Any
    ) -> dict[str, uuid.UUID]:
        """A destination with one rule per kind, as the destinations API stores it."""
        alert_uuid = uuid.UUID(alert_id)
        config = config or {"webhook_url": "https://hooks.example.com/logs"}
        with Session(self.state) as session:
            destination = AlertDestination(alert_id=alert_uuid, type=destination_type)
            session.add(destination)
            session.flush()
            rules = {
                kind: NotificationRule(
                    destination_id=destination.id,
                    alert_id=alert_uuid,
                    kind=kind,
                    type=destination_type,
                    config=config,
                    webhook_secret="s3cret" if destination_type == "webhook" else None,
                )
                for kind in ("firing", "resolved", "broken", "errored")
            }
            session.add_all(rules.values())
            session.commit()
            return {kind: rule.id for kind, rule in rules.items()}

    def cycle_at(self, at: datetime, engine: CheckEngine | None = None) -> dict[str, int]:
        self.clock.now = at
        return (engine or self.engine).run_cycle().summary()

    def run_slots(self, start: datetime, end: datetime) -> None:
        """A cycle at every 5-minute slot of ``[start, end]``, like the loop ticking on time."""
        at = start
        while at <= end:
            self.cycle_at(at)
            at += FIVE_MINUTES

    # --- reading back ---

    def row(self, alert_id: str) -> AlertRow:
        with Session(self.state) as session:
            row = session.get(AlertRow, uuid.UUID(alert_id))
            assert row is not None
            session.expunge(row)
            return row

    def events(self, alert_id: str) -> list[AlertEventRow]:
        with Session(self.state) as session:
            query = (
                select(AlertEventRow)
                .where(AlertEventRow.alert_id == uuid.UUID(alert_id))
                .order_by(col(AlertEventRow.created_at), col(AlertEventRow.kind))
            )
            return list(session.exec(query))

    def transitions(self, alert_id: str) -> list[tuple[datetime, str]]:
        return [
            (event.created_at, event.state_after)
            for event in self.events(alert_id)
            if event.state_before != event.state_after
        ]

    def outbox(self, alert_id: str) -> list[OutboxRow]:
        with Session(self.state) as session:
            query = (
                select(OutboxRow)
                .where(OutboxRow.alert_id == uuid.UUID(alert_id))
                .order_by(col(OutboxRow.created_at), col(OutboxRow.kind))
            )
            return list(session.exec(query))

    def notifications(self, alert_id: str, kind: str | None = None) -> list[tuple[datetime, str]]:
        """(check time, kind) of each committed notification, one per check (rules fan out)."""
        seen = {
            (datetime.fromisoformat(row.payload["triggered_at"]), row.kind)
            for row in self.outbox(alert_id)
            if kind is None or row.kind == kind
        }
        return sorted(seen)


@contextmanager
def fresh_state(kind: str, directory: Path) -> Iterator[Engine]:
    """A migrated state store of its own: the engine checks every due alert of a store, so a test that
    counts what a cycle did must not share its store with other tests' alerts."""
    with fresh_state_url(kind, directory) as url:
        engine = state_store.make_engine(url)
        try:
            state_store.upgrade(engine)
            yield engine
        finally:
            engine.dispose()


@contextmanager
def fresh_state_url(kind: str, directory: Path) -> Iterator[str]:
    """The URL of an empty state store of its own: a SQLite file in ``directory``, or a PostgreSQL schema
    dropped afterwards (skipped when LOGS_MCP_TEST_DATABASE_URL is unset)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'state-{uuid.uuid4().hex[:8]}.db'}"
        return
    with postgres_schema_url("logs_mcp_engine", "PostgreSQL engine tests") as url:
        yield url


def make_rig(services: Services, state: Engine, settings: Settings | None = None) -> EngineRig:
    project_id = next(_PROJECT_IDS)
    with Session(state) as session:
        session.add(Project(id=project_id, name=f"engine {project_id}", ingestion_token=uuid.uuid4().hex))
        session.commit()
    return EngineRig(
        services=services,
        state=state,
        project_id=project_id,
        clock=ScriptedClock(timeline_start()),
        settings=settings or Settings(data_dir=services.settings.data_dir),
    )


def _nanos(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000
