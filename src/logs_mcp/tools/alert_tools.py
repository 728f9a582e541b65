"""MCP tools that manage log alerts (PostHog's tool names). Thin: resolve the caller's project, call the
alert service, which validates with the same messages as the REST API."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field, WithJsonSchema

from logs_mcp.alerts.models import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Alert,
    AlertEventPage,
    AlertPage,
    AlertPayload,
)
from logs_mcp.alerts.service import EVENT_KINDS
from logs_mcp.logs.accounts import READ, WRITE
from logs_mcp.services import Services
from logs_mcp.tools.annotations import CREATES, DELETES, EDITS, READ_ONLY, REPLACES
from logs_mcp.tools.context import CallerResolver, tool_errors
from logs_mcp.tools.logs_tools import ProjectId

AlertId = Annotated[
    str, Field(description="The alert's id (UUID), as returned by logs-alerts-list or -create.")
]
AlertFields = Annotated[
    dict[str, Any],
    WithJsonSchema(AlertPayload.model_json_schema()),
    Field(description="Alert fields, as the REST API body. Unknown and read-only keys are ignored."),
]
Limit = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description="Page size.")]
Offset = Annotated[int, Field(ge=0, description="Rows to skip; use the previous page's offset + limit.")]
EventKindFilter = Annotated[
    str | None, Field(description=f"Only rows of this kind, one of {', '.join(EVENT_KINDS)}.")
]


def alerts_url(services: Services, project_id: int) -> str:
    """The REST URL of the project's alerts, which pages of alert lists link from."""
    return f"{services.settings.base_url}/api/projects/{project_id}/logs/alerts/"


def register(server: MCPServer, services: Services, callers: CallerResolver) -> None:
    alerts = services.alerts

    @server.tool(name="logs-alerts-list", title="List log alerts", annotations=READ_ONLY)
    @tool_errors
    def list_alerts(
        project_id: ProjectId = None, limit: Limit = DEFAULT_PAGE_SIZE, offset: Offset = 0
    ) -> AlertPage:
        """The project's log alerts, newest first, each with its state (not_firing, firing, snoozed,
        broken), its 24-hour state timeline, who it notifies (destination_types; [] = nobody) and the last
        check error. Check here before creating an alert: a similar one may already exist."""
        chosen = callers.project(READ, project_id)
        return alerts.list_alerts(chosen, limit=limit, offset=offset, url=alerts_url(services, chosen))

    @server.tool(name="logs-alerts-create", title="Create log alert", annotations=CREATES)
    @tool_errors
    def create_alert(alert: AlertFields, project_id: ProjectId = None) -> Alert:
        """Create a log alert. Every 5 minutes it counts the logs matching `filters` over the last
        `window_minutes` and breaches when the count is above/below `threshold_count`; it fires when
        `datapoints_to_alarm` (N) of the last `evaluation_periods` (M) checks breached, and resolves when
        that no longer holds.

        Author it like a careful on-call engineer: look at the baseline first (logs-count-ranges), then
        replay the draft over history with logs-alerts-simulate-create and adjust until it would fire
        about 0-3 times a week; noisy alerts get ignored. Damp flapping with N-of-M (e.g. 2 of 3) and
        `cooldown_minutes`. `{"enabled": false}` saves a draft that needs no filters yet. An alert
        notifies nobody until destinations are attached: confirm with the user where notifications
        should go (Slack channel, webhook) before attaching any."""
        chosen = callers.project(WRITE, project_id)
        return alerts.create(chosen, alert, created_by_key_id=callers.principal().key_id)

    @server.tool(name="logs-alerts-retrieve", title="Get log alert", annotations=READ_ONLY)
    @tool_errors
    def retrieve_alert(alert_id: AlertId, project_id: ProjectId = None) -> Alert:
        """One alert with its configuration, state, 24-hour state timeline, destination types and last
        check error. For why it fired or failed, read logs-alerts-events-list."""
        return alerts.retrieve(callers.project(READ, project_id), alert_id)

    @server.tool(name="logs-alerts-update", title="Replace log alert", annotations=REPLACES)
    @tool_errors
    def update_alert(alert_id: AlertId, alert: AlertFields, project_id: ProjectId = None) -> Alert:
        """Replace an alert's configuration (PUT): omitted fields go back to their defaults (enabled
        true, threshold 100 above, window 5, N = M = 1, cooldown 0). To change a few fields, use
        logs-alerts-partial-update instead. Changing threshold, filters, N or M restarts evaluation from
        not_firing; simulate the new configuration first."""
        chosen = callers.project(WRITE, project_id)
        return alerts.update(chosen, alert_id, alert, partial=False)

    @server.tool(name="logs-alerts-partial-update", title="Update log alert", annotations=EDITS)
    @tool_errors
    def partial_update_alert(alert_id: AlertId, alert: AlertFields, project_id: ProjectId = None) -> Alert:
        """Change only the given fields of an alert. Also the control plane: `{"enabled": false}`
        disables it, `{"enabled": true}` enables it, `{"snooze_until": "<future ISO time>"}` mutes it until
        then and `{"snooze_until": null}` unsnoozes it. One call makes at most one state transition
        (enable/disable first, then snooze, then a threshold/filter/N/M change, which restarts evaluation
        from not_firing). Tell the user before silencing an alert they rely on."""
        chosen = callers.project(WRITE, project_id)
        return alerts.update(chosen, alert_id, alert, partial=True)

    @server.tool(name="logs-alerts-destroy", title="Delete log alert", annotations=DELETES)
    @tool_errors
    def destroy_alert(alert_id: AlertId, project_id: ProjectId = None) -> str:
        """Delete an alert for good, with its event history and destinations. Confirm with the user
        first; to silence an alert for a while, snooze or disable it instead (logs-alerts-partial-update)."""
        alerts.destroy(callers.project(WRITE, project_id), alert_id)
        return f"Alert {alert_id} deleted."

    @server.tool(name="logs-alerts-reset", title="Reset broken log alert", annotations=EDITS)
    @tool_errors
    def reset_alert(alert_id: AlertId, project_id: ProjectId = None) -> Alert:
        """Reset a broken alert (stopped after 5 failed checks in a row): clears the failure counter and
        schedules an immediate recheck. Only broken alerts can be reset. Read last_error_message first and
        fix the cause (usually the filters), or it will break again."""
        return alerts.reset(callers.project(WRITE, project_id), alert_id)

    @server.tool(name="logs-alerts-events-list", title="List alert events", annotations=READ_ONLY)
    @tool_errors
    def list_alert_events(
        alert_id: AlertId,
        kind: EventKindFilter = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        offset: Offset = 0,
        project_id: ProjectId = None,
    ) -> AlertEventPage:
        """An alert's history, newest first: state changes, failed checks and user actions (enable,
        disable, snooze, unsnooze, threshold_change, reset). Quiet checks (no error, no state change) are
        left out. Each check row's `explanation` gives the window counts, the N-of-M tally, the threshold
        and why a notification was or was not sent: quote it when telling the user why an alert fired."""
        chosen = callers.project(READ, project_id)
        return alerts.list_events(
            chosen,
            alert_id,
            kind=kind or None,
            limit=limit,
            offset=offset,
            url=alerts_url(services, chosen) + f"{alert_id}/events/",
        )
