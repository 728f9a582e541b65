"""The service layer as one object, which both faces (MCP tools and REST) are handed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from logs_mcp.alerts.destinations import DestinationService
from logs_mcp.alerts.outbox import Deliveries
from logs_mcp.alerts.service import AlertService
from logs_mcp.alerts.simulate import SimulateService
from logs_mcp.config import Settings
from logs_mcp.logs.accounts import Accounts
from logs_mcp.logs.discovery import Discovery
from logs_mcp.logs.export import Exports
from logs_mcp.logs.ingest import LogIngest
from logs_mcp.logs.queries import LogQueries
from logs_mcp.store.clickhouse import LogStore


@dataclass
class Services:
    settings: Settings
    log_store: LogStore
    state_engine: Engine
    accounts: Accounts
    queries: LogQueries
    ingest: LogIngest
    discovery: Discovery
    exports: Exports
    alerts: AlertService
    destinations: DestinationService
    deliveries: Deliveries
    simulations: SimulateService

    def close(self) -> None:
        self.exports.close()  # finish or cancel export jobs while the stores are still open
        self.log_store.close()
        self.state_engine.dispose()
