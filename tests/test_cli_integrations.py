"""``logs-mcp integrations`` as users run it, in subprocesses on a data directory of their own: Slack
workspaces are registered for a project, listed without their tokens, and usable as slack_workspace_id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from logs_mcp.alerts.destinations import DestinationService
from logs_mcp.alerts.integrations import Integrations
from logs_mcp.alerts.service import AlertService
from logs_mcp.config import Settings
from logs_mcp.errors import InvalidInput
from logs_mcp.logs.accounts import Accounts
from logs_mcp.store import state

LOGS_MCP = str(Path(sys.executable).with_name("logs-mcp"))
TOKEN = "xoxb-123456-7890-NeverPrintedToken"
COMMAND_TIMEOUT_SECONDS = 60


def cli(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("LOGS_MCP_")}
    done = subprocess.run(
        [LOGS_MCP, *args, "--data-dir", str(data_dir)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean | (env or {}),
        timeout=COMMAND_TIMEOUT_SECONDS,
    )
    assert TOKEN not in done.stdout + done.stderr
    return done


def cli_json(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    done = cli(data_dir, *args, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # exactly one JSON value


def test_add_slack_prints_the_id_and_list_never_shows_tokens(tmp_path: Path) -> None:
    first = cli_json(tmp_path, "projects", "create", "shop")["id"]
    second = cli_json(tmp_path, "projects", "create", "blog")["id"]

    added = cli_json(
        tmp_path, "integrations", "add-slack", "--token", TOKEN, "--name", "Acme", "--project", str(first)
    )
    other = cli_json(
        tmp_path, "integrations", "add-slack", "--project", str(second), env={"LOGS_MCP_SLACK_TOKEN": TOKEN}
    )
    listed = cli_json(tmp_path, "integrations", "list")["results"]
    only_first = cli_json(tmp_path, "integrations", "list", "--project", str(first))["results"]
    text = cli(tmp_path, "integrations", "list")

    assert set(added) == {"id", "project_id", "kind", "name", "created_at"}
    assert (added["project_id"], added["kind"], added["name"]) == (first, "slack", "Acme")
    assert (other["project_id"], other["name"]) == (second, "Slack")
    assert [row["id"] for row in listed] == [added["id"], other["id"]]
    assert only_first == [added]
    assert text.returncode == 0 and "Acme" in text.stdout


def test_bad_tokens_and_unknown_projects_are_one_line_errors(tmp_path: Path) -> None:
    project = str(cli_json(tmp_path, "projects", "create", "shop")["id"])

    done = cli(tmp_path, "integrations", "add-slack", "--token", "xoxa-2-123-abc", "--project", project)
    assert done.returncode != 0
    assert done.stderr.strip() == (
        "Error: This is not a Slack token: expected a bot token (xoxb-…) or a user token (xoxp-…)."
    )
    missing = cli(tmp_path, "integrations", "add-slack", "--token", TOKEN, "--project", "999")
    assert (missing.returncode, missing.stderr.strip()) == (2, "Error: Project 999 does not exist.")
    assert cli_json(tmp_path, "integrations", "list") == {"results": []}


def test_the_printed_id_is_a_slack_workspace_id_of_that_project_only(tmp_path: Path) -> None:
    project = cli_json(tmp_path, "projects", "create", "shop")["id"]
    other_project = cli_json(tmp_path, "projects", "create", "blog")["id"]
    workspace = cli_json(tmp_path, "integrations", "add-slack", "--token", TOKEN, "--project", str(project))[
        "id"
    ]
    engine = state.make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        settings = Settings(data_dir=tmp_path)
        alerts, destinations = AlertService(engine, settings), DestinationService(engine, settings)
        slack = {"type": "slack", "slack_workspace_id": workspace, "slack_channel_id": "C1"}

        alert = alerts.create(project, {"filters": {"serviceNames": ["api"]}}, created_by_key_id=None)
        created = destinations.create(project, str(alert.id), slack)
        foreign = alerts.create(other_project, {"filters": {"serviceNames": ["api"]}}, created_by_key_id=None)
        with pytest.raises(InvalidInput) as refused:
            destinations.create(other_project, str(foreign.id), slack)
    finally:
        engine.dispose()

    assert len(created.hog_function_ids) == 4
    assert refused.value.attr == "slack_workspace_id"


@pytest.mark.parametrize(
    "token", ["xoxa-2-123-abc", "hunter2", "xoxb-", "xoxb-1-2 3", "xoxp-" + "1-" * 300 + "x"]
)
def test_token_shapes_are_checked_without_calling_slack(tmp_path: Path, token: str) -> None:
    engine = state.make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    state.upgrade(engine)
    try:
        project = Accounts(engine).create_project("shop").id
        assert project is not None
        with pytest.raises(InvalidInput) as refused:
            Integrations(engine).add_slack(project, token)
        accepted = [
            Integrations(engine).add_slack(project, good).kind for good in ("xoxb-1-2-a", " xoxp-9-AbC ")
        ]
    finally:
        engine.dispose()

    assert (refused.value.attr, refused.value.detail) == (
        "token",
        "This is not a Slack token: expected a bot token (xoxb-…) or a user token (xoxp-…).",
    )
    assert accepted == ["slack", "slack"]
