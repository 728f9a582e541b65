"""What a notification says, per destination type (alerts.md §6.5, §6.6). Pure: no I/O, no clock.

An :class:`AlertNotification` is the snapshot the check engine takes when it commits a notification to the
outbox; it is JSON-serialisable (``model_dump(mode="json")`` / ``model_validate``) so every retry renders
the same bytes, and therefore the same webhook signature.

Links. logs-mcp has no web UI, so "the project URL" of the spec is our REST project root,
``<base_url>/api/projects/<project_id>``:

* "View alert" → ``<project url>/logs/alerts/<alert id>`` — the alert's REST resource (GET retrieves it);
* "View logs" → ``<project url>/logs?<logs_url_params>`` where each query parameter (``dateRange``,
  ``severityLevels``, ``serviceNames``, ``filterGroup``) is the compact JSON of the same-named field of the
  ``POST …/logs/query`` body, so an agent or a script turns the link into that query unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import urlencode
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from logs_mcp.alerts.notification_kind import NotificationKind as NotificationKind  # the notifiers' API
from logs_mcp.alerts.state_machine import CheckDecision
from logs_mcp.store.alert_tables import AlertRow


class AlertNotification(BaseModel):
    """One notification: the alert as it was when the check decided to notify.

    ``error_message`` is this check's classified error for ``errored`` and the last one for ``broken``
    (§6.5 ``error_message`` / ``last_error_message``). ``date_from``/``date_to`` bound the checked range
    that the "View logs" link opens (firing and resolved).
    """

    model_config = ConfigDict(frozen=True)

    id: UUID = Field(default_factory=uuid4, description="Event id: the webhook body's id.")
    kind: NotificationKind
    triggered_at: AwareDatetime
    base_url: str
    project_id: int
    project_name: str
    alert_id: UUID
    alert_name: str
    threshold_count: int
    threshold_operator: Literal["above", "below"]
    window_minutes: int
    filters: dict[str, Any] = Field(default_factory=dict)
    result_count: int | None = None
    consecutive_failures: int = 0
    error_message: str = ""
    date_from: AwareDatetime | None = None
    date_to: AwareDatetime | None = None

    @classmethod
    def for_check(
        cls, decision: CheckDecision, alert: AlertRow, *, project_name: str, base_url: str
    ) -> AlertNotification:
        """The notification a check decision asks for (the rule as evaluated, the alert's identity);
        ``ValueError`` if it asks for none."""
        kind = NotificationKind.of(decision.notification)
        date_from = date_to = None
        if decision.observed is not None and decision.tally is not None:
            # The checked range: the oldest considered window's start up to the slot (§6.5).
            date_from = decision.observed.bounds(decision.tally.considered - 1)[0]
            date_to = decision.observed.date_to
        return cls(
            kind=kind,
            triggered_at=decision.now,
            base_url=base_url,
            project_id=alert.project_id,
            project_name=project_name,
            alert_id=alert.id,
            alert_name=alert.name,
            threshold_count=decision.rule.threshold_count,
            threshold_operator=decision.rule.threshold_operator.value,
            window_minutes=decision.rule.window_minutes,
            filters=dict(decision.rule.filters),
            result_count=decision.tally.current_count if decision.tally else None,
            consecutive_failures=decision.after.consecutive_failures,
            error_message=decision.failure.message if decision.failure else "",
            date_from=date_from,
            date_to=date_to,
        )

    @property
    def service_names(self) -> list[str]:
        return list(self.filters.get("serviceNames") or [])

    @property
    def severity_levels(self) -> list[str]:
        return list(self.filters.get("severityLevels") or [])

    @property
    def project_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/api/projects/{self.project_id}"

    @property
    def alert_url(self) -> str:
        return f"{self.project_url}/logs/alerts/{self.alert_id}"

    @property
    def logs_url_params(self) -> str:
        params: dict[str, str] = {}
        if self.date_from is not None and self.date_to is not None:
            params["dateRange"] = _compact_json(
                {"date_from": _iso(self.date_from), "date_to": _iso(self.date_to)}
            )
        for key in ("severityLevels", "serviceNames", "filterGroup"):
            if self.filters.get(key):
                params[key] = _compact_json(self.filters[key])
        return urlencode(params)

    @property
    def logs_url(self) -> str:
        return f"{self.project_url}/logs?{self.logs_url_params}"

    @property
    def shows_logs(self) -> bool:
        """Firing and resolved point at the logs; broken and errored at the alert."""
        return self.kind in (NotificationKind.FIRING, NotificationKind.RESOLVED)


def _compact_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# --- shared content (§6.6) -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Action:
    label: str
    url: str


def header(notification: AlertNotification) -> str:
    return _HEADERS[notification.kind].format(name=notification.alert_name)


_HEADERS: Final = {
    NotificationKind.FIRING: "🔴 Log alert '{name}' is firing",
    NotificationKind.RESOLVED: "🟢 Log alert '{name}' has resolved",
    NotificationKind.BROKEN: "⚠️ Log alert '{name}' was auto-disabled",
    NotificationKind.ERRORED: "🟡 Log alert '{name}' couldn't evaluate",
}


def details(notification: AlertNotification) -> list[tuple[str, str]]:
    """The (label, value) lines of §6.6 in order, each value on one line; empty values are left out."""
    n = notification
    if n.kind is NotificationKind.FIRING:
        lines = [("Threshold breached", _count_text(n))]
    elif n.kind is NotificationKind.RESOLVED:
        lines = [("Current count", _count_text(n))]
    elif n.kind is NotificationKind.BROKEN:
        lines = [
            ("Reason", f"{n.consecutive_failures} consecutive check failures."),
            ("Last error", n.error_message),
        ]
    else:
        lines = [("Reason", n.error_message), ("Failure count", str(n.consecutive_failures))]
    return [(label, _one_line(value)) for label, value in lines if value]


def _count_text(n: AlertNotification) -> str:
    count = "unknown" if n.result_count is None else str(n.result_count)
    return f"{count} logs in {n.window_minutes}m (threshold: {n.threshold_operator} {n.threshold_count})"


def _one_line(value: str) -> str:
    # Error texts may carry newlines; a detail is one line in every rendering.
    return " ".join(value.split())


def scope(notification: AlertNotification) -> str:
    """``Severity: a, b | Services: x, y``, either half omitted when empty, or the catch-all text."""
    parts = []
    if notification.severity_levels:
        parts.append("Severity: " + ", ".join(notification.severity_levels))
    if notification.service_names:
        parts.append("Services: " + ", ".join(notification.service_names))
    return " | ".join(parts) or "All log levels and services"


def primary_action(notification: AlertNotification, max_url_length: int | None = None) -> Action:
    """ "View logs" for firing/resolved, "View alert" otherwise.

    A receiver that caps link length (Slack buttons: 3000) gets the alert link instead of a logs link that a
    large filter group made too long, rather than rejecting the whole message.
    """
    if notification.shows_logs:
        url = notification.logs_url
        if max_url_length is None or len(url) <= max_url_length:
            return Action("View logs", url)
    return Action("View alert", notification.alert_url)


# --- §6.5 internal event -----------------------------------------------------------------------------


def event_properties(notification: AlertNotification) -> dict[str, Any]:
    """The properties of the internal event (§6.5), in the spec's order."""
    n = notification
    base: dict[str, Any] = {"alert_id": str(n.alert_id), "alert_name": n.alert_name, "team_id": n.project_id}
    if n.shows_logs:
        return base | {
            "threshold_count": n.threshold_count,
            "threshold_operator": n.threshold_operator,
            "window_minutes": n.window_minutes,
            "result_count": n.result_count,
            "filters": n.filters,
            "service_names": n.service_names,
            "severity_levels": n.severity_levels,
            "logs_url_params": n.logs_url_params,
            "triggered_at": _iso(n.triggered_at),
        }
    failure = {
        "consecutive_failures": n.consecutive_failures,
        "service_names": n.service_names,
        "severity_levels": n.severity_levels,
        "triggered_at": _iso(n.triggered_at),
    }
    message_key = "last_error_message" if n.kind is NotificationKind.BROKEN else "error_message"
    return base | failure | {message_key: n.error_message}


def internal_event(notification: AlertNotification) -> dict[str, Any]:
    """The whole internal event: name, ``distinct_id = team_<project id>``, check time, properties."""
    return {
        "event": notification.kind.event_name,
        "distinct_id": f"team_{notification.project_id}",
        "timestamp": _iso(notification.triggered_at),
        "properties": event_properties(notification),
    }


# --- webhook --------------------------------------------------------------------------------------------


def webhook_body(notification: AlertNotification) -> dict[str, Any]:
    """§6.6 webhook JSON: ``{id, type: logs_alert.<kind>, timestamp, data}``."""
    n = notification
    data: dict[str, Any] = {"alert_id": str(n.alert_id), "alert_name": n.alert_name}
    if n.shows_logs:
        data |= {
            "result_count": n.result_count,
            "threshold_count": n.threshold_count,
            "threshold_operator": n.threshold_operator,
            "window_minutes": n.window_minutes,
            "service_names": n.service_names,
            "severity_levels": n.severity_levels,
            "logs_url": n.logs_url,
            "alert_url": n.alert_url,
        }
    else:
        data |= {
            "consecutive_failures": n.consecutive_failures,
            "service_names": n.service_names,
            "severity_levels": n.severity_levels,
            "alert_url": n.alert_url,
        }
        message_key = "last_error_message" if n.kind is NotificationKind.BROKEN else "error_message"
        data[message_key] = n.error_message
    return {
        "id": str(n.id),
        "type": f"logs_alert.{n.kind.public_name}",
        "timestamp": _iso(n.triggered_at),
        "data": data,
    }


# --- Slack Block Kit ------------------------------------------------------------------------------------

SLACK_HEADER_LIMIT: Final = 150  # plain_text of a header block
SLACK_TEXT_LIMIT: Final = 3000  # mrkdwn of a section or context element
SLACK_URL_LIMIT: Final = 3000  # button url


def slack_message(notification: AlertNotification) -> dict[str, Any]:
    """``chat.postMessage`` arguments besides the channel: ``text`` (the header) and ``blocks``.

    Texts are cut to Block Kit's limits, since one oversized field makes Slack reject the whole message.
    """
    title = header(notification)
    lines = "\n".join(f"*{label}:* {_slack_escape(value)}" for label, value in details(notification))
    project_link = f"Project: <{notification.project_url}|{_slack_escape(notification.project_name)}>"
    action = primary_action(notification, SLACK_URL_LIMIT)
    blocks = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(title, SLACK_HEADER_LIMIT), "emoji": True},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(lines, SLACK_TEXT_LIMIT)}},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": _cut(_slack_escape(scope(notification)), SLACK_TEXT_LIMIT)},
                {"type": "mrkdwn", "text": project_link},
            ],
        },
        {"type": "divider"},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": action.label}, "url": action.url}
            ],
        },
    ]
    return {"text": title, "blocks": blocks}


def _slack_escape(text: str) -> str:
    # Slack's three control characters: an alert named "<!channel>" must not ping anyone.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Microsoft Teams ------------------------------------------------------------------------------------


def teams_text(notification: AlertNotification) -> str:
    """§6.6 Teams markdown: bold header, ``**label:** value`` paragraphs, then the action link."""
    action = primary_action(notification)
    paragraphs = [
        f"**{header(notification)}**",
        *(f"**{label}:** {value}" for label, value in details(notification)),
        f"[{action.label}]({action.url})",
    ]
    return "\n\n".join(paragraphs)


def teams_payload(notification: AlertNotification) -> dict[str, Any]:
    return {"text": teams_text(notification)}


# --- Discord --------------------------------------------------------------------------------------------

DISCORD_CONTENT_LIMIT: Final = 2000
DISCORD_DESCRIPTION_LIMIT: Final = 4096
DISCORD_FIELD_VALUE_LIMIT: Final = 1024
DISCORD_URL_LIMIT: Final = 2000
_DISCORD_COLORS: Final = {
    NotificationKind.FIRING: 0xE01E5A,
    NotificationKind.RESOLVED: 0x2EB67D,
    NotificationKind.BROKEN: 0xECB22E,
    NotificationKind.ERRORED: 0xECB22E,
}


def discord_payload(notification: AlertNotification) -> dict[str, Any]:
    """An execute-webhook body: the header as ``content`` and one embed with the details.

    The embed links the primary action from its title; ``allowed_mentions`` is empty so a name like
    "@everyone" in an alert or service never pings a channel.
    """
    action = primary_action(notification, DISCORD_URL_LIMIT)
    fields = [
        {"name": label, "value": _cut(value, DISCORD_FIELD_VALUE_LIMIT), "inline": False}
        for label, value in details(notification)
    ]
    embed = {
        "title": action.label,
        "url": action.url,
        "description": _cut(scope(notification), DISCORD_DESCRIPTION_LIMIT),
        "color": _DISCORD_COLORS[notification.kind],
        "fields": fields,
        "footer": {"text": f"Project: {notification.project_name}"},
        "timestamp": _iso(notification.triggered_at),
    }
    return {
        "content": _cut(header(notification), DISCORD_CONTENT_LIMIT),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }
