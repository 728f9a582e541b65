"""Rendered notifications (alerts.md §6.5, §6.6): every header, detail line, link and body shape, pure."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

import pytest

from logs_mcp.alerts.notifiers.payloads import (
    SLACK_HEADER_LIMIT,
    SLACK_URL_LIMIT,
    AlertNotification,
    NotificationKind,
    discord_payload,
    event_properties,
    header,
    internal_event,
    slack_message,
    teams_payload,
    teams_text,
    webhook_body,
)
from logs_mcp.alerts.state_machine import (
    AlertRule,
    AlertState,
    AlertStatus,
    CheckFailure,
    FailureCode,
    Notification,
    ThresholdOperator,
    WindowCounts,
    evaluate_check,
)
from logs_mcp.store.alert_tables import AlertRow

EVENT_ID = UUID("00000000-0000-4000-8000-000000000001")
ALERT_ID = UUID("11111111-1111-4111-8111-111111111111")
CHECKED_AT = datetime(2025, 1, 1, 0, 1, tzinfo=UTC)
BASE = "https://logs.example.com"
PROJECT_URL = f"{BASE}/api/projects/7"
ALERT_URL = f"{PROJECT_URL}/logs/alerts/{ALERT_ID}"
FILTERS = {"severityLevels": ["error", "fatal"], "serviceNames": ["checkout", "payments"]}


def notification(kind: NotificationKind, **overrides: Any) -> AlertNotification:
    fields: dict[str, Any] = {
        "id": EVENT_ID,
        "kind": kind,
        "triggered_at": CHECKED_AT,
        "base_url": BASE + "/",
        "project_id": 7,
        "project_name": "Shop",
        "alert_id": ALERT_ID,
        "alert_name": "Checkout errors",
        "threshold_count": 100,
        "threshold_operator": "above",
        "window_minutes": 5,
        "filters": FILTERS,
        "result_count": 150,
        "consecutive_failures": 0,
        "date_from": CHECKED_AT - timedelta(minutes=5),
        "date_to": CHECKED_AT,
    }
    if kind is NotificationKind.BROKEN:
        fields |= {
            "result_count": None,
            "consecutive_failures": 5,
            "error_message": "Query is too expensive.",
        }
    if kind is NotificationKind.ERRORED:
        fields |= {"result_count": None, "consecutive_failures": 1, "error_message": "Unknown column 'x'."}
    return AlertNotification(**(fields | overrides))


FIRING = notification(NotificationKind.FIRING)
RESOLVED = notification(NotificationKind.RESOLVED, result_count=12)
BROKEN = notification(NotificationKind.BROKEN)
ERRORED = notification(NotificationKind.ERRORED)


def logs_url_of(n: AlertNotification) -> str:
    return f"{PROJECT_URL}/logs?{n.logs_url_params}"


# --- headers, links, kinds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (FIRING, "🔴 Log alert 'Checkout errors' is firing"),
        (RESOLVED, "🟢 Log alert 'Checkout errors' has resolved"),
        (BROKEN, "⚠️ Log alert 'Checkout errors' was auto-disabled"),
        (ERRORED, "🟡 Log alert 'Checkout errors' couldn't evaluate"),
    ],
)
def test_headers_are_the_specs_strings(n: AlertNotification, expected: str) -> None:
    assert header(n) == expected


def test_kinds_map_from_check_actions_and_name_their_events() -> None:
    assert [NotificationKind.of(action) for action in (Notification.FIRE, Notification.RESOLVE)] == [
        NotificationKind.FIRING,
        NotificationKind.RESOLVED,
    ]
    assert NotificationKind.of(Notification.BROKEN) is NotificationKind.BROKEN
    assert NotificationKind.of(Notification.ERROR) is NotificationKind.ERRORED
    with pytest.raises(ValueError, match="notifies nobody"):
        NotificationKind.of(Notification.NONE)
    assert [kind.event_name for kind in NotificationKind] == [
        "$logs_alert_firing",
        "$logs_alert_resolved",
        "$logs_alert_auto_disabled",
        "$logs_alert_errored",
    ]


def test_links_are_our_rest_resources() -> None:
    assert FIRING.project_url == PROJECT_URL  # the trailing slash of base_url is not doubled
    assert FIRING.alert_url == ALERT_URL
    assert FIRING.logs_url == logs_url_of(FIRING)


def test_logs_url_params_carry_the_filters_and_the_checked_range_as_query_fields() -> None:
    with_group = notification(
        NotificationKind.FIRING,
        filters=FILTERS
        | {
            "filterGroup": {
                "type": "AND",
                "values": [{"type": "AND", "values": [{"key": "a", "value": "b"}]}],
            }
        },
    )
    params = {key: json.loads(values[0]) for key, values in parse_qs(with_group.logs_url_params).items()}
    assert params == {
        "dateRange": {"date_from": "2024-12-31T23:56:00+00:00", "date_to": "2025-01-01T00:01:00+00:00"},
        "severityLevels": ["error", "fatal"],
        "serviceNames": ["checkout", "payments"],
        "filterGroup": with_group.filters["filterGroup"],
    }


def test_logs_url_params_leave_out_empty_filters_and_a_missing_range() -> None:
    bare = notification(NotificationKind.FIRING, filters={"serviceNames": []}, date_from=None, date_to=None)
    assert bare.logs_url_params == ""


# --- §6.5 internal event ---------------------------------------------------------------------------------


def test_event_properties_of_firing_and_resolved() -> None:
    expected = {
        "alert_id": str(ALERT_ID),
        "alert_name": "Checkout errors",
        "team_id": 7,
        "threshold_count": 100,
        "threshold_operator": "above",
        "window_minutes": 5,
        "result_count": 150,
        "filters": FILTERS,
        "service_names": ["checkout", "payments"],
        "severity_levels": ["error", "fatal"],
        "logs_url_params": FIRING.logs_url_params,
        "triggered_at": "2025-01-01T00:01:00+00:00",
    }
    assert event_properties(FIRING) == expected
    assert list(event_properties(FIRING)) == list(expected)
    assert event_properties(RESOLVED) == expected | {"result_count": 12}


def test_event_properties_of_errored_and_broken() -> None:
    base = {
        "alert_id": str(ALERT_ID),
        "alert_name": "Checkout errors",
        "team_id": 7,
        "service_names": ["checkout", "payments"],
        "severity_levels": ["error", "fatal"],
        "triggered_at": "2025-01-01T00:01:00+00:00",
    }
    assert event_properties(ERRORED) == base | {
        "consecutive_failures": 1,
        "error_message": "Unknown column 'x'.",
    }
    assert event_properties(BROKEN) == base | {
        "consecutive_failures": 5,
        "last_error_message": "Query is too expensive.",
    }


def test_event_properties_without_filters_use_empty_lists() -> None:
    properties = event_properties(notification(NotificationKind.ERRORED, filters={}))
    assert properties["service_names"] == [] and properties["severity_levels"] == []


def test_internal_event_is_named_per_kind_for_the_team() -> None:
    assert internal_event(BROKEN) == {
        "event": "$logs_alert_auto_disabled",
        "distinct_id": "team_7",
        "timestamp": "2025-01-01T00:01:00+00:00",
        "properties": event_properties(BROKEN),
    }


# --- webhook body ----------------------------------------------------------------------------------------


def test_webhook_body_of_firing() -> None:
    body = webhook_body(FIRING)
    assert body == {
        "id": str(EVENT_ID),
        "type": "logs_alert.firing",
        "timestamp": "2025-01-01T00:01:00+00:00",
        "data": {
            "alert_id": str(ALERT_ID),
            "alert_name": "Checkout errors",
            "result_count": 150,
            "threshold_count": 100,
            "threshold_operator": "above",
            "window_minutes": 5,
            "service_names": ["checkout", "payments"],
            "severity_levels": ["error", "fatal"],
            "logs_url": logs_url_of(FIRING),
            "alert_url": ALERT_URL,
        },
    }
    assert list(body["data"]) == [
        "alert_id",
        "alert_name",
        "result_count",
        "threshold_count",
        "threshold_operator",
        "window_minutes",
        "service_names",
        "severity_levels",
        "logs_url",
        "alert_url",
    ]


def test_webhook_body_of_resolved_differs_only_in_type_and_count() -> None:
    firing, resolved = webhook_body(FIRING), webhook_body(RESOLVED)
    assert resolved["type"] == "logs_alert.resolved"
    assert resolved["data"] == firing["data"] | {"result_count": 12}


def test_webhook_body_of_broken_and_errored() -> None:
    base = {
        "alert_id": str(ALERT_ID),
        "alert_name": "Checkout errors",
        "service_names": ["checkout", "payments"],
        "severity_levels": ["error", "fatal"],
        "alert_url": ALERT_URL,
    }
    broken = webhook_body(BROKEN)
    assert broken["type"] == "logs_alert.auto_disabled"
    assert broken["data"] == base | {
        "consecutive_failures": 5,
        "last_error_message": "Query is too expensive.",
    }
    errored = webhook_body(ERRORED)
    assert errored["type"] == "logs_alert.errored"
    assert errored["data"] == base | {"consecutive_failures": 1, "error_message": "Unknown column 'x'."}


# --- Slack -----------------------------------------------------------------------------------------------


def blocks_of(n: AlertNotification) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = slack_message(n)["blocks"]
    return blocks


def test_slack_message_of_firing() -> None:
    message = slack_message(FIRING)
    assert message["text"] == "🔴 Log alert 'Checkout errors' is firing"
    assert message["blocks"] == [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "🔴 Log alert 'Checkout errors' is firing", "emoji": True},
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Threshold breached:* 150 logs in 5m (threshold: above 100)"},
        },
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "Severity: error, fatal | Services: checkout, payments"},
                {"type": "mrkdwn", "text": f"Project: <{PROJECT_URL}|Shop>"},
            ],
        },
        {"type": "divider"},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "View logs"},
                    "url": logs_url_of(FIRING),
                }
            ],
        },
    ]


@pytest.mark.parametrize(
    ("n", "section", "action"),
    [
        (RESOLVED, "*Current count:* 12 logs in 5m (threshold: above 100)", "View logs"),
        (
            BROKEN,
            "*Reason:* 5 consecutive check failures.\n*Last error:* Query is too expensive.",
            "View alert",
        ),
        (ERRORED, "*Reason:* Unknown column 'x'.\n*Failure count:* 1", "View alert"),
    ],
)
def test_slack_section_lines_and_action_per_kind(n: AlertNotification, section: str, action: str) -> None:
    blocks = blocks_of(n)
    assert [block["type"] for block in blocks] == ["header", "section", "context", "divider", "actions"]
    assert blocks[1]["text"]["text"] == section
    button = blocks[4]["elements"][0]
    assert button["text"]["text"] == action
    assert button["url"] == (logs_url_of(n) if action == "View logs" else ALERT_URL)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"severityLevels": ["error"]}, "Severity: error"),
        ({"serviceNames": ["api", "web"]}, "Services: api, web"),
        ({"filterGroup": {"type": "AND", "values": []}}, "All log levels and services"),
        ({}, "All log levels and services"),
    ],
)
def test_slack_context_omits_empty_halves(filters: dict[str, Any], expected: str) -> None:
    context = blocks_of(notification(NotificationKind.FIRING, filters=filters))[2]
    assert context["elements"][0]["text"] == expected


def test_slack_escapes_control_characters_of_names() -> None:
    n = notification(NotificationKind.ERRORED, project_name="R&D <team>", error_message="bad <!channel> & co")
    blocks = blocks_of(n)
    assert blocks[1]["text"]["text"] == "*Reason:* bad &lt;!channel&gt; &amp; co\n*Failure count:* 1"
    assert blocks[2]["elements"][1]["text"] == f"Project: <{PROJECT_URL}|R&amp;D &lt;team&gt;>"


def test_slack_cuts_a_long_header_to_the_block_limit_but_keeps_it_whole_in_text() -> None:
    n = notification(NotificationKind.FIRING, alert_name="x" * 255)
    message = slack_message(n)
    shown = message["blocks"][0]["text"]["text"]
    assert len(shown) == SLACK_HEADER_LIMIT and shown.endswith("…")
    assert message["text"] == header(n)


def test_slack_falls_back_to_the_alert_link_when_the_logs_link_is_too_long() -> None:
    many = {"serviceNames": [f"service-{i:04d}" for i in range(400)]}
    n = notification(NotificationKind.FIRING, filters=many)
    assert len(n.logs_url) > SLACK_URL_LIMIT
    button = blocks_of(n)[4]["elements"][0]
    assert (button["text"]["text"], button["url"]) == ("View alert", ALERT_URL)


def test_detail_values_are_one_line() -> None:
    n = notification(NotificationKind.ERRORED, error_message="line one\n\n\nline   two\r\n")
    assert blocks_of(n)[1]["text"]["text"] == "*Reason:* line one line two\n*Failure count:* 1"


# --- Teams -----------------------------------------------------------------------------------------------


def test_teams_text_of_firing() -> None:
    assert teams_text(FIRING) == (
        "**🔴 Log alert 'Checkout errors' is firing**\n\n"
        "**Threshold breached:** 150 logs in 5m (threshold: above 100)\n\n"
        f"[View logs]({logs_url_of(FIRING)})"
    )
    assert teams_payload(FIRING) == {"text": teams_text(FIRING)}


def test_teams_text_of_broken_and_errored() -> None:
    assert teams_text(BROKEN) == (
        "**⚠️ Log alert 'Checkout errors' was auto-disabled**\n\n"
        "**Reason:** 5 consecutive check failures.\n\n"
        "**Last error:** Query is too expensive.\n\n"
        f"[View alert]({ALERT_URL})"
    )
    assert teams_text(ERRORED) == (
        "**🟡 Log alert 'Checkout errors' couldn't evaluate**\n\n"
        "**Reason:** Unknown column 'x'.\n\n"
        "**Failure count:** 1\n\n"
        f"[View alert]({ALERT_URL})"
    )


@pytest.mark.parametrize("kind", list(NotificationKind))
def test_teams_text_has_no_single_asterisks_and_no_triple_newlines(kind: NotificationKind) -> None:
    text = teams_text(notification(kind, error_message="first\n\n\n\nsecond"))
    assert re.search(r"(?<!\*)\*(?!\*)", text) is None
    assert "\n\n\n" not in text
    assert text.startswith(f"**{header(notification(kind))}**\n\n")


def test_teams_text_leaves_out_an_empty_last_error() -> None:
    assert "Last error" not in teams_text(notification(NotificationKind.BROKEN, error_message=""))


# --- Discord ---------------------------------------------------------------------------------------------


def test_discord_payload_of_firing() -> None:
    assert discord_payload(FIRING) == {
        "content": "🔴 Log alert 'Checkout errors' is firing",
        "embeds": [
            {
                "title": "View logs",
                "url": logs_url_of(FIRING),
                "description": "Severity: error, fatal | Services: checkout, payments",
                "color": 0xE01E5A,
                "fields": [
                    {
                        "name": "Threshold breached",
                        "value": "150 logs in 5m (threshold: above 100)",
                        "inline": False,
                    }
                ],
                "footer": {"text": "Project: Shop"},
                "timestamp": "2025-01-01T00:01:00+00:00",
            }
        ],
        "allowed_mentions": {"parse": []},
    }


def test_discord_payload_of_errored_links_the_alert_and_lists_its_details() -> None:
    embed = discord_payload(ERRORED)["embeds"][0]
    assert (embed["title"], embed["url"]) == ("View alert", ALERT_URL)
    assert [(field["name"], field["value"]) for field in embed["fields"]] == [
        ("Reason", "Unknown column 'x'."),
        ("Failure count", "1"),
    ]


# --- snapshots from real check decisions -----------------------------------------------------------------


def alert_row(**overrides: Any) -> AlertRow:
    fields: dict[str, Any] = {
        "id": ALERT_ID,
        "project_id": 7,
        "name": "Checkout errors",
        "enabled": True,
        "filters": FILTERS,
        "threshold_count": 100,
        "threshold_operator": "above",
        "window_minutes": 5,
        "check_interval_minutes": 5,
        "state": "not_firing",
        "evaluation_periods": 3,
        "datapoints_to_alarm": 2,
        "cooldown_minutes": 0,
    }
    return AlertRow(**(fields | overrides))


RULE = AlertRule(
    threshold_count=100,
    threshold_operator=ThresholdOperator.ABOVE,
    window_minutes=5,
    evaluation_periods=3,
    datapoints_to_alarm=2,
    filters=FILTERS,
)


def test_for_check_of_a_firing_decision_snapshots_count_and_checked_range() -> None:
    counts = WindowCounts(
        date_to=CHECKED_AT, window=timedelta(minutes=5), cadence=timedelta(minutes=5), counts=(150, 120, 3)
    )
    decision = evaluate_check(AlertStatus(), RULE, counts, CHECKED_AT)
    n = AlertNotification.for_check(decision, alert_row(), project_name="Shop", base_url=BASE)
    assert n.kind is NotificationKind.FIRING
    assert (n.result_count, n.triggered_at, n.project_id, n.alert_id) == (150, CHECKED_AT, 7, ALERT_ID)
    # Three 5-minute windows on a 5-minute cadence: the checked range is the last 15 minutes.
    assert (n.date_from, n.date_to) == (CHECKED_AT - timedelta(minutes=15), CHECKED_AT)
    assert webhook_body(n)["data"]["logs_url"] == n.logs_url


def test_for_check_of_a_resolve_decision() -> None:
    counts = WindowCounts(
        date_to=CHECKED_AT, window=timedelta(minutes=5), cadence=timedelta(minutes=5), counts=(4, 3, 2)
    )
    decision = evaluate_check(AlertStatus(state=AlertState.FIRING), RULE, counts, CHECKED_AT)
    n = AlertNotification.for_check(decision, alert_row(), project_name="Shop", base_url=BASE)
    assert (n.kind, n.result_count) == (NotificationKind.RESOLVED, 4)


def test_for_check_of_failures_carries_the_classified_message_and_the_counter() -> None:
    failure = CheckFailure(code=FailureCode.QUERY_PERFORMANCE)
    first = evaluate_check(AlertStatus(), RULE, failure, CHECKED_AT)
    errored = AlertNotification.for_check(first, alert_row(), project_name="Shop", base_url=BASE)
    assert (errored.kind, errored.consecutive_failures) == (NotificationKind.ERRORED, 1)
    assert errored.error_message == failure.message
    assert errored.date_from is None and errored.result_count is None
    fifth = evaluate_check(AlertStatus(consecutive_failures=4), RULE, failure, CHECKED_AT)
    broken = AlertNotification.for_check(fifth, alert_row(), project_name="Shop", base_url=BASE)
    assert (broken.kind, broken.consecutive_failures) == (NotificationKind.BROKEN, 5)
    assert webhook_body(broken)["data"]["last_error_message"] == failure.message


def test_for_check_refuses_a_decision_without_notification() -> None:
    quiet = WindowCounts(
        date_to=CHECKED_AT, window=timedelta(minutes=5), cadence=timedelta(minutes=5), counts=(1,)
    )
    decision = evaluate_check(AlertStatus(), RULE, quiet, CHECKED_AT)
    with pytest.raises(ValueError, match="notifies nobody"):
        AlertNotification.for_check(decision, alert_row(), project_name="Shop", base_url=BASE)


@pytest.mark.parametrize("n", [FIRING, RESOLVED, BROKEN, ERRORED])
def test_snapshot_survives_the_outbox_json_round_trip_byte_for_byte(n: AlertNotification) -> None:
    stored = json.dumps(n.model_dump(mode="json"))
    again = AlertNotification.model_validate(json.loads(stored))
    assert again == n
    assert json.dumps(webhook_body(again)) == json.dumps(webhook_body(n))
    assert slack_message(again) == slack_message(n)


def test_snapshot_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone"):
        notification(NotificationKind.FIRING, triggered_at=datetime(2025, 1, 1))
