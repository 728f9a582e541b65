"""Composition root: services from settings, and the one ASGI app serving REST, OTLP and MCP."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import Future
from typing import Any

import anyio
from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from logs_mcp import __version__
from logs_mcp.alerts.destinations import DestinationService
from logs_mcp.alerts.outbox import Deliveries
from logs_mcp.alerts.runner import run_alert_workers
from logs_mcp.alerts.service import AlertService
from logs_mcp.alerts.simulate import SimulateService
from logs_mcp.config import Settings
from logs_mcp.http import (
    alerts_routes,
    delivery_routes,
    destination_routes,
    discovery_routes,
    errors,
    export_routes,
    logs_routes,
    otlp,
    simulate_routes,
)
from logs_mcp.log_store import open_log_store
from logs_mcp.logs.accounts import Accounts
from logs_mcp.logs.discovery import Discovery
from logs_mcp.logs.export import Exports
from logs_mcp.logs.ingest import LogIngest
from logs_mcp.logs.queries import LogQueries
from logs_mcp.services import Services
from logs_mcp.store import state
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.tools.server import build_mcp_server

MCP_PATH = "/mcp"
SSE_PATH = "/sse"
SSE_MESSAGES_PATH = "/messages/"


def build_services(
    settings: Settings, owner: Mapping[str, Any] | None = None, *, opening: Future[LogStore] | None = None
) -> Services:
    """Open both stores (migrating them) and wire the services; ``opening``: the log store being opened
    already, in a thread (``cli.open_services``). Raises StoreLockedError when another process owns the
    embedded log store."""
    engine = state.open_engine(settings.state_url)
    accounts = Accounts(engine)
    log_store = opening.result() if opening is not None else open_log_store(settings, owner)
    alerts = AlertService(engine, settings)
    return Services(
        settings=settings,
        log_store=log_store,
        state_engine=engine,
        accounts=accounts,
        queries=LogQueries(log_store),
        ingest=LogIngest(log_store, settings.max_request_bytes),
        discovery=Discovery(log_store),
        exports=Exports(
            log_store, engine, settings.data_dir / "exports", settings.export_row_limit, settings.base_url
        ),
        alerts=alerts,
        destinations=DestinationService(engine, settings),
        deliveries=Deliveries(engine),
        simulations=SimulateService(log_store, settings, alerts),
    )


def build_rest_app(
    services: Services, mcp: MCPServer | None = None, *, alert_workers: bool = False
) -> FastAPI:
    """``alert_workers``: run the check loop and the notification deliverer while the app lives."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Mounted sub-apps never see lifespan events, so the MCP session manager is run here.
        async with contextlib.AsyncExitStack() as stack:
            if mcp is not None:
                await stack.enter_async_context(mcp.session_manager.run())
            if alert_workers:
                workers = await stack.enter_async_context(anyio.create_task_group())
                workers.start_soon(run_alert_workers, services)
                stack.callback(workers.cancel_scope.cancel)  # runs before the group waits for them
            yield

    app = FastAPI(
        title="logs-mcp",
        version=__version__,
        description="Search logs and manage log alerts. PostHog Logs API compatible.",
        openapi_url="/api/schema/",
        docs_url="/api/docs/",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    errors.install(app)
    app.include_router(logs_routes.router)
    app.include_router(discovery_routes.router)
    app.include_router(export_routes.router)
    # Before the alert routes: /alerts/simulate/ must never be read as an alert id.
    app.include_router(simulate_routes.router)
    app.include_router(alerts_routes.router)
    app.include_router(destination_routes.router)
    app.include_router(delivery_routes.router)
    app.include_router(otlp.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


class PathDispatcher:
    """Routes MCP transport paths to the MCP apps and everything else (lifespan included) to REST."""

    def __init__(self, rest: ASGIApp, streamable_http: ASGIApp, sse: ASGIApp) -> None:
        self._rest = rest
        self._streamable_http = streamable_http
        self._sse = sse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.rstrip("/") == MCP_PATH:
            await self._streamable_http(scope, receive, send)
        elif scope["type"] == "http" and (path == SSE_PATH or path.startswith(SSE_MESSAGES_PATH)):
            await self._sse(scope, receive, send)
        else:
            await self._rest(scope, receive, send)


def build_asgi_app(services: Services, *, alert_workers: bool = False) -> ASGIApp:
    mcp = build_mcp_server(services, local_principal=None, http_auth=True)
    security = _transport_security(services.settings)
    streamable_http = mcp.streamable_http_app(streamable_http_path=MCP_PATH, transport_security=security)
    sse = mcp.sse_app(sse_path=SSE_PATH, message_path=SSE_MESSAGES_PATH, transport_security=security)
    return PathDispatcher(build_rest_app(services, mcp, alert_workers=alert_workers), streamable_http, sse)


def _transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection while bound to loopback; on a real interface every call carries an API
    key anyway, and the Host header is whatever name users reach the server by."""
    if settings.host in ("127.0.0.1", "localhost", "::1"):
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)
