"""MCP tools that attach and detach an alert's notification destinations (PostHog's tool names), and list
them (ours). Thin: resolve the caller's project, call the destination service, which validates with the
same messages as the REST API."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from logs_mcp.alerts.destination_models import DestinationCreated, DestinationList, DestinationRequest
from logs_mcp.logs.accounts import READ, WRITE
from logs_mcp.services import Services
from logs_mcp.tools.alert_tools import AlertId
from logs_mcp.tools.annotations import CREATES, DETACHES, READ_ONLY
from logs_mcp.tools.context import CallerResolver, tool_errors
from logs_mcp.tools.logs_tools import ProjectId

_FIELDS = DestinationRequest.model_fields


def _described(name: str) -> Any:
    return Field(description=_FIELDS[name].description)


DestinationTypeArg = Annotated[str, _described("type")]
SlackWorkspaceId = Annotated[int | None, _described("slack_workspace_id")]
SlackChannelId = Annotated[str | None, _described("slack_channel_id")]
SlackChannelName = Annotated[str | None, _described("slack_channel_name")]
WebhookUrl = Annotated[str | None, _described("webhook_url")]
WebhookSecret = Annotated[str | None, _described("webhook_secret")]
RuleIds = Annotated[
    list[str],
    Field(
        description=(
            "Notification rule ids (hog_function_ids) of this alert, from logs-alerts-destinations-list or "
            "the create result. All four ids of a destination remove it; some of them stop only those kinds."
        )
    ),
]


def register(server: MCPServer, services: Services, callers: CallerResolver) -> None:
    destinations = services.destinations

    @server.tool(
        name="logs-alerts-destinations-create", title="Attach alert destination", annotations=CREATES
    )
    @tool_errors
    def create_destination(
        alert_id: AlertId,
        type: DestinationTypeArg,
        slack_workspace_id: SlackWorkspaceId = None,
        slack_channel_id: SlackChannelId = None,
        slack_channel_name: SlackChannelName = None,
        webhook_url: WebhookUrl = None,
        webhook_secret: WebhookSecret = None,
        project_id: ProjectId = None,
    ) -> DestinationCreated:
        """Send an alert's notifications somewhere: one rule per event kind (firing, resolved, broken,
        errored) is created at once; their ids come back in that order.

        Types: slack (slack_workspace_id = a Slack integration id of this project, slack_channel_id,
        optional slack_channel_name), webhook (webhook_url, optional webhook_secret to sign requests),
        discord (webhook_url https://discord.com/api/webhooks/{id}/{token}), teams (webhook_url).

        Before calling, confirm the exact Slack channel or URL with the user: notifications will reach
        everyone there. Never guess a channel or invent a URL."""
        chosen = callers.project(WRITE, project_id)
        given = {
            "type": type,
            "slack_workspace_id": slack_workspace_id,
            "slack_channel_id": slack_channel_id,
            "slack_channel_name": slack_channel_name,
            "webhook_url": webhook_url,
            "webhook_secret": webhook_secret,
        }
        payload = {name: value for name, value in given.items() if value is not None}
        return destinations.create(chosen, alert_id, payload)

    @server.tool(
        name="logs-alerts-destinations-delete-create", title="Detach alert destination", annotations=DETACHES
    )
    @tool_errors
    def delete_destination(alert_id: AlertId, hog_function_ids: RuleIds, project_id: ProjectId = None) -> str:
        """Stop notifications: delete notification rules of an alert, all or none (an id of another alert
        fails the whole call). Confirm with the user which channel or URL should stop hearing about the
        alert first; an alert without destinations notifies nobody."""
        chosen = callers.project(WRITE, project_id)
        destinations.delete(chosen, alert_id, {"hog_function_ids": hog_function_ids})
        return f"Deleted {len(hog_function_ids)} notification rule(s) of alert {alert_id}."

    @server.tool(name="logs-alerts-destinations-list", title="List alert destinations", annotations=READ_ONLY)
    @tool_errors
    def list_destinations(alert_id: AlertId, project_id: ProjectId = None) -> DestinationList:
        """Where an alert's notifications go: each destination with its type, Slack channel or URL (secret
        parts hidden) and its notification rule ids (hog_function_ids), which
        logs-alerts-destinations-delete-create takes."""
        return destinations.list(callers.project(READ, project_id), alert_id)
