"""The ``logs-mcp`` command line: serve, stdio, demo, projects, keys, integrations, db."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import click
from sqlalchemy.engine import Engine

from logs_mcp.config import Settings
from logs_mcp.logs.accounts import READ, WRITE, Accounts, Principal
from logs_mcp.store.state import open_engine

if TYPE_CHECKING:  # the server stack loads only for the commands that run it, so the others start fast
    from logs_mcp.services import Services
    from logs_mcp.store.clickhouse import StoreLockedError

DEMO_FILE = "demo.json"
DEMO_DAYS = 7

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where logs-mcp keeps its data [env LOGS_MCP_DATA_DIR; default ./.logs-mcp].",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")


def settings_for(data_dir: Path | None, **overrides: Any) -> Settings:
    values = {key: value for key, value in overrides.items() if value is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


@dataclass(frozen=True)
class DemoCredentials:
    project_id: int
    ingestion_token: str
    api_key: str


def read_demo(settings: Settings) -> DemoCredentials | None:
    path = settings.data_dir / DEMO_FILE
    if not path.exists():
        return None
    return DemoCredentials(**json.loads(path.read_text()))


def ensure_demo(services: Services, days: int, echo: Callable[[str], None]) -> DemoCredentials:
    """The demo project, with its logs and a key; created and loaded on the first start only."""
    existing = read_demo(services.settings)
    if existing is not None:
        return existing
    project = services.accounts.create_project("Demo")
    assert project.id is not None
    key = services.accounts.create_api_key([project.id], [READ, WRITE], label="demo")
    load_demo_logs(services, project.id, days, echo)
    credentials = DemoCredentials(project.id, project.ingestion_token, key.key)
    path = services.settings.data_dir / DEMO_FILE
    path.write_text(json.dumps(asdict(credentials)))
    path.chmod(0o600)  # it holds a key
    return credentials


def load_demo_logs(services: Services, project_id: int, days: int, echo: Callable[[str], None]) -> int:
    from logs_mcp.logs.demo import load_demo

    echo(f"Loading {days} days of demo logs into project {project_id} …")
    with click.progressbar(length=100, label="demo logs", file=sys.stderr) as bar:
        done = [0]

        def progress(current: int, total: int) -> None:
            percent = int(100 * current / max(total, 1))
            bar.update(percent - done[0])
            done[0] = percent

        return load_demo(services.log_store, project_id, days=days, progress=progress)


@contextmanager
def open_services(settings: Settings, owner: dict[str, Any] | None = None) -> Iterator[Services]:
    """Both stores, or a one-line explanation and exit code 2 when a server owns the embedded store.

    chDB spends most of its ~0.5 s start outside Python, so the log store opens in a thread while the
    app's modules import."""
    from logs_mcp.log_store import open_log_store
    from logs_mcp.store.clickhouse import StoreLockedError

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="open-log-store") as pool:
        opening = pool.submit(open_log_store, settings, owner)
        from logs_mcp.app import build_services

        try:
            services = build_services(settings, opening=opening)
        except StoreLockedError as error:
            raise click.ClickException(locked_message(error)) from None
    try:
        yield services
    finally:
        services.close()


def open_accounts(settings: Settings) -> tuple[Engine, Accounts]:
    """The state store alone: enough for the commands that manage projects, keys and integrations, which
    therefore work while a server owns the log store."""
    engine = open_engine(settings.state_url)
    return engine, Accounts(engine)


def locked_message(error: StoreLockedError) -> str:
    url = error.owner.get("url")
    bridge = (
        f"or use that server: logs-mcp stdio --server {url} --api-key <key>"
        if url
        else "or point this command at a running server"
    )
    return f"{error}. Stop it first, {bridge}."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="logs-mcp")
def main() -> None:
    """logs-mcp: search application logs and run log alerts, for AI agents (MCP) and people (REST)."""


@main.command()
@data_dir_option
@click.option("--host", default=None, help="Interface to bind [env LOGS_MCP_HOST; default 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [env LOGS_MCP_PORT; default 8000].")
@click.option("--demo/--no-demo", default=True, show_default=True, help="Load demo logs on the first start.")
def serve(data_dir: Path | None, host: str | None, port: int | None, demo: bool) -> None:
    """Run the server: REST API, OTLP receiver and MCP (streamable HTTP at /mcp, SSE at /sse)."""
    import uvicorn

    settings = settings_for(data_dir, host=host, port=port)
    with ExitStack() as running:
        with starting():
            services = running.enter_context(open_services(settings, owner={"url": settings.base_url}))
            from logs_mcp.app import build_asgi_app

            app = build_asgi_app(services, alert_workers=settings.check_loop_enabled)
        credentials = ensure_demo(services, DEMO_DAYS, _stderr) if demo else read_demo(settings)
        click.echo(banner(settings, credentials))
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


@contextmanager
def starting() -> Iterator[None]:
    """The garbage collector stays off while a server starts. A start builds over 200,000 long-lived
    objects (models, schemas, routes) and a few thousand garbage ones: collecting while they are made cost
    ~0.25 s of CPU, and every later full collection would scan them all again (~0.3 s), so they are
    frozen out of those."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def banner(settings: Settings, demo: DemoCredentials | None) -> str:
    base = settings.base_url
    lines = [
        f"logs-mcp is running on {base}",
        f"  REST API      {base}/api/projects/<project_id>/logs/   (OpenAPI: {base}/api/schema/)",
        f"  OTLP/HTTP     {base}/v1/logs   (Authorization: Bearer <ingestion token>)",
        f"  MCP           {base}/mcp (streamable HTTP), {base}/sse (SSE)",
        f"  data          {settings.data_dir.resolve()}",
    ]
    if demo is not None:
        config = {
            "mcpServers": {
                "logs-mcp": {
                    "type": "http",
                    "url": f"{base}/mcp",
                    "headers": {"Authorization": f"Bearer {demo.api_key}"},
                }
            }
        }
        lines += [
            "",
            f"Demo project {demo.project_id}",
            f"  API key          {demo.api_key}",
            f"  ingestion token  {demo.ingestion_token}",
            f"  try: curl -H 'Authorization: Bearer {demo.api_key}' "
            f"{base}/api/projects/{demo.project_id}/logs/has_logs",
            "",
            "MCP client config (Claude Code, Cursor, VS Code …):",
            json.dumps(config, indent=2),
        ]
    return "\n".join(lines)


@main.command()
@data_dir_option
@click.option("--project", "project_id", type=int, default=None, help="Project the tools act on.")
@click.option("--server", "server_url", default=None, help="Bridge to a running logs-mcp server at this URL.")
@click.option("--api-key", default=None, envvar="LOGS_MCP_API_KEY", help="API key for --server.")
@click.option("--demo/--no-demo", default=True, show_default=True, help="Load demo logs on the first start.")
def stdio(
    data_dir: Path | None, project_id: int | None, server_url: str | None, api_key: str | None, demo: bool
) -> None:
    """Serve MCP over stdio (for IDEs and desktop agents), as the local user on one project."""
    if server_url:
        if not api_key:
            raise click.UsageError("--server needs --api-key (or LOGS_MCP_API_KEY).")
        import httpx2
        from mcp import MCPError

        from logs_mcp.tools.bridge import run_stdio_bridge

        try:
            anyio.run(run_stdio_bridge, server_url, api_key)
        except* (httpx2.HTTPError, MCPError) as failure:
            raise click.ClickException(bridge_failed_message(server_url, failure)) from None
        return
    settings = settings_for(data_dir, project_id=project_id)
    with ExitStack() as running:
        with starting():
            services = running.enter_context(open_services(settings, owner={"stdio": True}))
        project = stdio_project(services, demo)
        _stderr(f"logs-mcp stdio: project {project}, data in {settings.data_dir.resolve()}")
        anyio.run(_serve_stdio, services, project)


def bridge_failed_message(server_url: str, failure: BaseExceptionGroup[Exception]) -> str:
    cause: BaseException = failure
    while isinstance(cause, BaseExceptionGroup):
        cause = cause.exceptions[0]
    return (
        f"could not use the logs-mcp server at {server_url} ({cause}). "
        "Check that it runs there and that --api-key is a key with the logs:read scope."
    )


def stdio_project(services: Services, demo: bool) -> int:
    configured = services.settings.project_id
    if configured is not None:
        services.accounts.get_project(configured)
        return configured
    if demo:
        return ensure_demo(services, DEMO_DAYS, _stderr).project_id
    projects = services.accounts.list_projects()
    if not projects or projects[0].id is None:
        raise click.ClickException("No project yet: run `logs-mcp projects create NAME`, or drop --no-demo.")
    return projects[0].id


async def _serve_stdio(services: Services, project_id: int) -> None:
    """MCP over stdio; this process owns the embedded store, so it also runs the alert workers."""
    from logs_mcp.alerts.runner import run_alert_workers
    from logs_mcp.tools.server import build_mcp_server

    local = Principal(frozenset({READ, WRITE}), frozenset({project_id}), default_project_id=project_id)
    async with anyio.create_task_group() as group:
        if services.settings.check_loop_enabled:
            group.start_soon(run_alert_workers, services)
        await build_mcp_server(services, local_principal=local, http_auth=False).run_stdio_async()
        group.cancel_scope.cancel()


@main.command()
@data_dir_option
@click.option("--days", type=click.IntRange(1, 90), default=DEMO_DAYS, show_default=True)
@click.option("--project", "project_id", type=int, default=None, help="Load into this project.")
def demo(data_dir: Path | None, days: int, project_id: int | None) -> None:
    """Load realistic demo logs (several services, daily rhythm, a few incidents)."""
    settings = settings_for(data_dir)
    with open_services(settings) as services:
        if project_id is None:
            credentials = read_demo(settings)
            if credentials is None:
                credentials = ensure_demo(services, days, _stderr)
                click.echo(f"Demo project {credentials.project_id}; API key {credentials.api_key}")
                return
            project_id = credentials.project_id
        services.accounts.get_project(project_id)
        rows = load_demo_logs(services, project_id, days, _stderr)
        click.echo(f"Loaded {rows} demo log rows into project {project_id}.")


@main.group()
def projects() -> None:
    """Manage projects (works while a server runs)."""


@projects.command("create")
@click.argument("name")
@data_dir_option
@json_option
def projects_create(name: str, data_dir: Path | None, as_json: bool) -> None:
    """Create a project; prints its id and OTLP ingestion token."""
    engine, accounts = open_accounts(settings_for(data_dir))
    try:
        project = accounts.create_project(name)
    finally:
        engine.dispose()
    if as_json:
        click.echo(
            json.dumps({"id": project.id, "name": project.name, "ingestion_token": project.ingestion_token})
        )
    else:
        click.echo(f"Project {project.id} ({project.name})\ningestion token: {project.ingestion_token}")


@main.group()
def keys() -> None:
    """Manage personal API keys (works while a server runs)."""


@keys.command("create")
@click.option(
    "--project", "project_ids", type=int, multiple=True, required=True, help="Project (repeatable)."
)
@click.option("--scopes", default=f"{READ},{WRITE}", show_default=True, help="Comma-separated scopes.")
@click.option("--label", default="", help="A name to recognise the key by.")
@data_dir_option
@json_option
def keys_create(
    project_ids: tuple[int, ...], scopes: str, label: str, data_dir: Path | None, as_json: bool
) -> None:
    """Create a personal API key; the key is printed once and only its hash is kept."""
    engine, accounts = open_accounts(settings_for(data_dir))
    try:
        created = accounts.create_api_key(project_ids, scopes.split(","), label=label)
    finally:
        engine.dispose()
    record = created.record
    if as_json:
        click.echo(
            json.dumps(
                {
                    "key": created.key,
                    "id": record.id,
                    "scopes": record.scopes,
                    "project_ids": record.project_ids,
                }
            )
        )
    else:
        click.echo(
            f"{created.key}\n(scopes {','.join(record.scopes)}; projects {record.project_ids}; "
            "shown once: store it now)"
        )


@main.group()
def integrations() -> None:
    """Register Slack workspaces for alert destinations (works while a server runs)."""


@integrations.command("add-slack")
@click.option(
    "--token",
    envvar="LOGS_MCP_SLACK_TOKEN",
    required=True,
    help="Slack bot token xoxb-… (or user token xoxp-…) [env LOGS_MCP_SLACK_TOKEN]. Kept server-side.",
)
@click.option("--name", default="", help="A name to recognise the workspace by [default: Slack].")
@click.option("--project", "project_id", type=int, required=True, help="Project whose alerts may use it.")
@data_dir_option
@json_option
def integrations_add_slack(
    token: str, name: str, project_id: int, data_dir: Path | None, as_json: bool
) -> None:
    """Register a Slack workspace; prints the id that Slack destinations take as slack_workspace_id.

    The token is only checked for its shape here; Slack answers at the first notification."""
    from logs_mcp.alerts.integrations import Integrations

    engine, _ = open_accounts(settings_for(data_dir))
    try:
        added = Integrations(engine).add_slack(project_id, token, name)
    finally:
        engine.dispose()
    if as_json:
        click.echo(added.model_dump_json())
    else:
        click.echo(
            f"Slack integration {added.id} ({added.name}) for project {added.project_id}\n"
            f"use it as slack_workspace_id: {added.id}"
        )


@integrations.command("list")
@click.option("--project", "project_id", type=int, default=None, help="Only this project's integrations.")
@data_dir_option
@json_option
def integrations_list(project_id: int | None, data_dir: Path | None, as_json: bool) -> None:
    """List registered integrations (tokens are never shown)."""
    from logs_mcp.alerts.integrations import Integrations

    engine, _ = open_accounts(settings_for(data_dir))
    try:
        found = Integrations(engine).list(project_id)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({"results": [integration.model_dump(mode="json") for integration in found]}))
    elif not found:
        click.echo("No integrations yet: logs-mcp integrations add-slack --token xoxb-… --project ID")
    else:
        for integration in found:
            click.echo(
                f"{integration.id}\t{integration.kind}\tproject {integration.project_id}\t{integration.name}"
            )


@main.group()
def alerts() -> None:
    """Log alert maintenance."""


@alerts.command("check")
@data_dir_option
@json_option
def alerts_check(data_dir: Path | None, as_json: bool) -> None:
    """Check every due alert now and send pending notifications once, then exit (for cron and tests).

    Safe next to other workers on the same state store: alerts and notifications are claimed first."""
    from logs_mcp.alerts.runner import check_now

    with open_services(settings_for(data_dir)) as services:
        cycle, delivery = anyio.run(check_now, services)
    summary = {
        "checked": cycle.checked,
        "fired": cycle.fired,
        "resolved": cycle.resolved,
        "errored": cycle.errored,
        "delivered": delivery.delivered,
        "failed": delivery.failed,
    }
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(", ".join(f"{key} {value}" for key, value in summary.items()))


@main.group()
def db() -> None:
    """State-store maintenance."""


@db.command("upgrade")
@data_dir_option
def db_upgrade(data_dir: Path | None) -> None:
    """Apply pending state-store migrations (they also run on every start)."""
    engine, _ = open_accounts(settings_for(data_dir))
    engine.dispose()
    click.echo("State store is up to date.")


def _stderr(message: str) -> None:
    click.echo(message, err=True)


def run() -> None:
    """Entry point that turns service errors into one-line messages."""
    from logs_mcp.errors import LogsMcpError

    try:
        main(standalone_mode=True)
    except LogsMcpError as error:
        click.echo(f"Error: {error.detail}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    run()
