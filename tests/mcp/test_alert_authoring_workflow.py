"""The whole alert-authoring workflow an agent follows, through the MCP SDK client only: find the noisy
service, locate the incident in time, ask for a threshold, replay the draft, save it, attach Slack.

The data is the demo's two days, whose payments outage (46 h ago, 40 minutes of TimeoutErrors) is the
incident a good alert must catch while staying quiet the rest of the time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from mcp import Client

from logs_mcp.alerts.integrations import Integrations
from logs_mcp.logs.accounts import READ, WRITE, Principal
from logs_mcp.logs.demo import PAYMENTS_OUTAGE, load_demo
from logs_mcp.services import Services
from logs_mcp.tools.server import build_mcp_server

PAYMENT_ERRORS = {"serviceNames": ["payments"], "severityLevels": ["error"]}


@pytest.fixture(scope="module")
def demo_project(services: Services) -> tuple[int, datetime]:
    project = services.accounts.create_project("authoring workflow")
    assert project.id is not None
    now = datetime.now(UTC)
    load_demo(services.log_store, project.id, days=2, now=now)
    return project.id, now


def test_an_agent_authors_a_quiet_alert_that_catches_the_outage(
    services: Services, demo_project: tuple[int, datetime]
) -> None:
    project_id, now = demo_project
    outage_start, outage_end = PAYMENTS_OUTAGE.window(now)
    integration = Integrations(services.state_engine).add_slack(project_id, "xoxb-workflow-test", "shop")
    local = Principal(frozenset({READ, WRITE}), frozenset({project_id}), default_project_id=project_id)
    server = build_mcp_server(services, local_principal=local, http_auth=False)

    async def workflow() -> None:
        async with Client(server) as client:

            async def call(tool: str, arguments: dict[str, Any]) -> Any:
                result = await client.call_tool(tool, arguments)
                assert not result.is_error, f"{tool}: {result.content}"
                return json.loads(result.content[0].text)  # type: ignore[union-attr]

            window = {"dateRange": {"date_from": "-2d"}}
            services_seen = await call("logs-services", {"query": window})
            errors_by_service = {row["service_name"]: row["error_count"] for row in services_seen["services"]}
            assert errors_by_service["payments"] > 0

            ranges = await call(
                "logs-count-ranges", {"query": {**window, **PAYMENT_ERRORS, "targetBuckets": 48}}
            )
            peak = max(ranges["ranges"], key=lambda bucket: bucket["count"])
            peak_start = datetime.fromisoformat(peak["date_from"].replace("Z", "+00:00"))
            peak_end = datetime.fromisoformat(peak["date_to"].replace("Z", "+00:00"))
            assert peak_start < outage_end and outage_start < peak_end, "the busiest hour holds the outage"

            # A week of history (the default): long enough that one 40-minute outage cannot set the baseline.
            draft = {"filters": PAYMENT_ERRORS, "window_minutes": 5, "date_from": "-7d"}
            suggestion = await call("logs-alerts-suggest-threshold", {"draft": draft})
            threshold = suggestion["threshold_count"]
            assert threshold is not None and threshold > suggestion["baseline"]["p50"]

            rule = {
                **draft,
                "threshold_count": threshold,
                "threshold_operator": "above",
                "cooldown_minutes": 60,
            }
            replay = await call("logs-alerts-simulate-create", {"simulation": rule})
            fired_at = [
                datetime.fromisoformat(bucket["timestamp"])
                for bucket in replay["buckets"]
                if bucket["notification"] == "fire"
            ]
            assert 1 <= replay["fire_count"] <= 3, replay["fire_count"]
            assert any(outage_start <= moment <= outage_end for moment in fired_at)

            saved_fields = {key: value for key, value in rule.items() if key != "date_from"}
            created = await call(
                "logs-alerts-create", {"alert": {"name": "Payments failing", **saved_fields}}
            )
            assert created["state"] == "not_firing" and created["destination_types"] == []

            attached = await call(
                "logs-alerts-destinations-create",
                {
                    "alert_id": created["id"],
                    "type": "slack",
                    "slack_workspace_id": integration.id,
                    "slack_channel_id": "C0PAYMENTS",
                    "slack_channel_name": "payments-oncall",
                },
            )
            assert len(attached["hog_function_ids"]) == 4

            retrieved = await call("logs-alerts-retrieve", {"alert_id": created["id"]})
            assert retrieved["destination_types"] == ["slack"]
            assert retrieved["threshold_count"] == threshold

    anyio.run(workflow)
