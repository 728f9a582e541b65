"""MCP tools that replay a draft alert over history: ``logs-alerts-simulate-create`` (PostHog's name) and
``logs-alerts-suggest-threshold`` (ours). Read-only; thin: resolve the project, call the simulate service,
fit the answer into the token budget."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field, WithJsonSchema

from logs_mcp.alerts.simulate import selected_buckets
from logs_mcp.alerts.simulate_models import (
    BucketSelection,
    SimulateRequest,
    SimulationToolResponse,
    SuggestThresholdRequest,
    SuggestThresholdResponse,
)
from logs_mcp.logs.accounts import READ
from logs_mcp.services import Services
from logs_mcp.tools.annotations import READ_ONLY
from logs_mcp.tools.budget import Budget, fit_list, tool_result
from logs_mcp.tools.context import CallerResolver, tool_errors
from logs_mcp.tools.logs_tools import ProjectId

SimulationFields = Annotated[
    dict[str, Any],
    WithJsonSchema(SimulateRequest.model_json_schema()),
    Field(
        description=(
            "The draft: filters, threshold_count, threshold_operator, window_minutes and date_from are "
            "required; check_interval_minutes, evaluation_periods, datapoints_to_alarm, cooldown_minutes "
            "and compare_to are optional."
        )
    ),
]
SuggestFields = Annotated[
    dict[str, Any],
    WithJsonSchema(SuggestThresholdRequest.model_json_schema()),
    Field(
        description=(
            "filters is required; threshold_operator (above), window_minutes (5), date_from (-7d), "
            "evaluation_periods, datapoints_to_alarm and cooldown_minutes are optional."
        )
    ),
]
Shown = Annotated[
    BucketSelection,
    Field(
        description=(
            "Which buckets to list: changes (default: fires, resolves, other state changes), breached (also "
            "every breaching check) or all (cut to the token budget). Counts always cover every bucket."
        )
    ),
]
CUT_HINT = (
    "Buckets were cut to fit the token budget: list fewer (shown: changes) or replay a shorter date_from."
)


def register(server: MCPServer, services: Services, callers: CallerResolver) -> None:
    budget = Budget(services.settings.mcp_token_budget)
    simulations = services.simulations

    @server.tool(name="logs-alerts-simulate-create", title="Simulate log alert", annotations=READ_ONLY)
    @tool_errors
    def simulate_alert(
        simulation: SimulationFields, shown: Shown = "changes", project_id: ProjectId = None
    ) -> Annotated[CallToolResult, SimulationToolResponse]:
        """Replay a draft log alert over history (up to 30 days, ending now) with the real alert state
        machine, before saving it: every 5 minutes (check_interval_minutes) the draft counts the matching
        logs of the last window_minutes and fires when datapoints_to_alarm of the last evaluation_periods
        checks breached threshold_count. Returns fire_count and resolve_count (notifications actually sent,
        after cooldown) and the buckets where something happened, each with its window count, state and a
        reason such as "42 > 30 — fired". Read-only: nothing is saved.

        Workflow for a low-noise alert: look at the baseline first (logs-alerts-suggest-threshold, or
        logs-count-ranges), simulate the draft over 7-30 days (date_from "-7d" to "-30d"), and adjust the
        threshold, N-of-M (e.g. 2 of 3) and cooldown_minutes until it would fire about 0-3 times a week
        and still fires on the incidents you know of; then save it with logs-alerts-create using the same
        fields. To weigh a change to an existing alert, pass its id as compare_to: `comparison` gives fires,
        resolves and minutes firing of the saved alert and of the draft over the same history."""
        response = simulations.simulate(callers.project(READ, project_id), simulation)
        listed = SimulationToolResponse(
            **response.model_dump(exclude={"buckets"}),
            buckets=selected_buckets(response.buckets, shown),
            shown=shown,
        )
        return tool_result(fit_list(listed, "buckets", budget, hint=CUT_HINT))

    @server.tool(
        name="logs-alerts-suggest-threshold", title="Suggest log alert threshold", annotations=READ_ONLY
    )
    @tool_errors
    def suggest_threshold(
        draft: SuggestFields, project_id: ProjectId = None
    ) -> Annotated[CallToolResult, SuggestThresholdResponse]:
        """Suggest a threshold_count for an alert on these filters from their history (default the last 7
        days), so no script of your own is needed. Returns the baseline (p50/p95/p99/max of the log count
        per window_minutes window, as each 5-minute check would have seen it), health flags (empty: nothing
        matched; sparse: most windows are empty; flat: a steady stream, where `below` catches a stop;
        spiky: bursts far above normal happened), the suggested threshold with how it was derived, and how
        often it would have fired over the same history (simulation, fires_per_week).

        Call it after picking the filters (logs-services, logs-attributes-list) and before
        logs-alerts-simulate-create: use the suggestion as the draft's threshold_count, simulate it over
        7-30 days to read each fire, aim for 0-3 fires a week, then create the alert. Read-only."""
        return tool_result(simulations.suggest_threshold(callers.project(READ, project_id), draft))
