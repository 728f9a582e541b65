"""Fixtures of the alert service tests: a migrated state store on SQLite and on PostgreSQL (when
LOGS_MCP_TEST_DATABASE_URL is set) with fresh projects per test, a clock the test moves, and helpers that
play the check engine's part (forcing a state, writing check rows) so control-plane rules can be tested
from any state."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from logs_mcp.alerts.service import AlertService
from logs_mcp.config import Settings
from logs_mcp.logs.accounts import READ, WRITE, Accounts
from logs_mcp.store import state
from logs_mcp.store.alert_tables import AlertEventRow, AlertRow
from postgres_schemas import postgres_schema_url

from .engine_processes import SeededLogs, seed_log_stores

START = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class AlertStore:
    """The alert service on one state store, with two projects and a key that created nothing yet."""

    engine: Engine
    clock: Clock
    service: AlertService
    project_id: int
    other_project_id: int
    key_id: int
    settings: Settings = field(default_factory=Settings)

    def force(self, alert_id: object, **columns: Any) -> None:
        """Set columns the check engine owns (state, counter, timestamps) directly."""
        with Session(self.engine) as session:
            row = session.get(AlertRow, uuid.UUID(str(alert_id)))
            assert row is not None
            for name, value in columns.items():
                setattr(row, name, value)
            session.add(row)
            session.commit()

    def add_event(self, alert_id: object, **fields: Any) -> None:
        """An event row as the check engine writes it (default: a quiet not_firing check, now)."""
        values: dict[str, Any] = {
            "kind": "check",
            "created_at": self.clock.now,
            "state_before": "not_firing",
            "state_after": "not_firing",
        }
        with Session(self.engine) as session:
            session.add(AlertEventRow(alert_id=uuid.UUID(str(alert_id)), **(values | fields)))
            session.commit()

    def event_rows(self, alert_id: object) -> list[AlertEventRow]:
        with Session(self.engine) as session:
            query = sa.select(AlertEventRow).where(AlertEventRow.alert_id == uuid.UUID(str(alert_id)))
            return list(session.scalars(query.order_by(AlertEventRow.created_at)))


@pytest.fixture(scope="session")
def sqlite_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One migrated SQLite store for the session; each test works in projects of its own."""
    engine = state.make_engine(f"sqlite:///{tmp_path_factory.mktemp('alert-state') / 'state.db'}")
    state.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_state() -> Iterator[Engine]:
    """One migrated PostgreSQL schema of its own for the session, dropped afterwards."""
    with postgres_schema_url("logs_mcp_alerts", "PostgreSQL alert-store tests") as url:
        engine = state.make_engine(url)
        try:
            state.upgrade(engine)
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> AlertStore:
    engine: Engine = request.getfixturevalue(f"{request.param}_state")
    accounts = Accounts(engine)
    project_id = accounts.create_project("alerts").id
    other_project_id = accounts.create_project("other").id
    assert project_id is not None and other_project_id is not None
    key = accounts.create_api_key([project_id], [READ, WRITE], label="ci key")
    assert key.record.id is not None
    clock = Clock()
    settings = Settings(alerts_per_project_cap=3)
    return AlertStore(
        engine=engine,
        clock=clock,
        service=AlertService(engine, settings, clock=clock),
        project_id=project_id,
        other_project_id=other_project_id,
        key_id=key.record.id,
        settings=settings,
    )


@pytest.fixture(scope="session")
def seeded_logs(tmp_path_factory: pytest.TempPathFactory) -> SeededLogs:
    """Two log stores with the same logs, for tests that run engine processes (one store each)."""
    return seed_log_stores(tmp_path_factory.mktemp("engine-processes"), copies=2)
