"""Simulate (alerts.md §5) and suggest-threshold on real chDB: known fires and resolves (N-of-M, cooldown,
above and below, empty history, gaps and the grid), every §5.1 message through REST and MCP, the bucket
limit, compare_to, and suggestions on a steady and a spiky baseline."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import anyio
import httpx
import pytest
from mcp import Client
from mcp.types import CallToolResult

from logs_mcp.alerts.simulate import SimulateService
from logs_mcp.logs.accounts import READ, Principal
from logs_mcp.services import Services
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.tools.server import build_mcp_server

if TYPE_CHECKING:
    from conftest import TestProject

_MINUTE = datetime.now(UTC).replace(second=0, microsecond=0)
NOW = _MINUTE - timedelta(minutes=_MINUTE.minute % 5)  # on the 5-minute grid
CHECKOUT = {"serviceNames": ["checkout"]}
DRAFT: dict[str, Any] = {
    "filters": CHECKOUT,
    "threshold_count": 5,
    "threshold_operator": "above",
    "window_minutes": 5,
    "date_from": "-2h",
}
EMPTY_FILTER = "At least one filter is required (severityLevels, serviceNames, or filterGroup)."


def insert_logs(store: LogStore, project_id: int, stamps: list[datetime], service: str = "checkout") -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    micros = [(moment - epoch) // timedelta(microseconds=1) for moment in stamps]
    store.insert_columns(
        store.logs_table,
        {
            "project_id": [project_id] * len(stamps),
            "uuid": [uuid4() for _ in stamps],
            "timestamp": micros,
            "observed_timestamp": micros,
            "service_name": [service] * len(stamps),
            "severity_text": ["error"] * len(stamps),
            "body": ["boom"] * len(stamps),
        },
    )


def per_bucket(counts: dict[int, int], *, at: datetime = NOW) -> list[datetime]:
    """``counts[m]`` logs in the 5-minute bucket starting ``m`` minutes before ``at`` (one minute into it)."""
    return [
        at - timedelta(minutes=minutes) + timedelta(minutes=1, seconds=second)
        for minutes, logs in counts.items()
        for second in range(logs)
    ]


def steady(minutes_back: int, logs: int = 1) -> dict[int, int]:
    return dict.fromkeys(range(5, minutes_back + 1, 5), logs)


def simulator(services: Services, now: datetime = NOW) -> SimulateService:
    return SimulateService(services.log_store, services.settings, services.alerts, clock=lambda: now)


def at(minutes: int) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat()


def notifications(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (bucket["timestamp"], bucket["notification"], bucket["reason"])
        for bucket in result["buckets"]
        if bucket["notification"] != "none"
    ]


def reasons(result: dict[str, Any]) -> dict[str, str]:
    return {bucket["timestamp"]: bucket["reason"] for bucket in result["buckets"]}


def simulate(services: Services, project: TestProject, **changes: Any) -> dict[str, Any]:
    response = simulator(services).simulate(project.id, DRAFT | changes)
    return json.loads(response.model_dump_json(exclude_none=True))


# --- replay on known data --------------------------------------------------------------------------


def test_above_fires_and_resolves_on_a_spike(services: Services, project: TestProject) -> None:
    insert_logs(services.log_store, project.id, per_bucket(steady(120) | {60: 11, 55: 11}))

    result = simulate(services, project)

    assert set(result) == {
        "buckets",
        "fire_count",
        "resolve_count",
        "total_buckets",
        "threshold_count",
        "threshold_operator",
    }
    assert (result["threshold_count"], result["threshold_operator"]) == (5, "above")
    assert result["total_buckets"] == len(result["buckets"]) == 25  # -120 … 0, both ends included
    assert result["buckets"][0] == {
        "timestamp": at(120),  # ISO with +00:00
        "count": 0,  # the first check has no window behind it
        "threshold_breached": False,
        "state": "not_firing",
        "notification": "none",
        "reason": "0 ≤ 5 — OK",
    }
    assert at(120).endswith("+00:00")
    assert notifications(result) == [
        (at(55), "fire", "11 > 5 — fired"),
        (at(45), "resolve", "1 ≤ 5 — resolved"),
    ]
    assert reasons(result)[at(50)] == "11 > 5 — still firing"
    assert reasons(result)[at(115)] == "1 ≤ 5 — OK"
    assert (result["fire_count"], result["resolve_count"]) == (1, 1)
    states = {bucket["timestamp"]: bucket["state"] for bucket in result["buckets"]}
    assert [states[at(m)] for m in (60, 55, 50, 45)] == ["not_firing", "firing", "firing", "not_firing"]


def test_n_of_m_waits_for_enough_breaches(services: Services, project: TestProject) -> None:
    insert_logs(services.log_store, project.id, per_bucket(steady(120) | {60: 11, 50: 11}))

    result = simulate(services, project, evaluation_periods=3, datapoints_to_alarm=2)

    assert reasons(result)[at(55)] == "11 > 5, 1 of last 3 checks breached (need 2 of 3) — waiting"
    assert reasons(result)[at(50)] == "1 ≤ 5 — OK"
    assert notifications(result) == [
        (at(45), "fire", "11 > 5, 2 of last 3 checks breached (need 2 of 3) — fired"),
        (at(40), "resolve", "1 ≤ 5 — resolved"),
    ]


def test_cooldown_suppresses_notifications_but_not_state_changes(
    services: Services, project: TestProject
) -> None:
    insert_logs(services.log_store, project.id, per_bucket(steady(120) | {100: 11, 70: 11, 30: 11}))

    result = simulate(services, project, cooldown_minutes=60)

    # Fire at -95 starts the cooldown (until -35): the resolve at -90, the fire at -65 and the resolve at
    # -60 change the state silently; the fire at -25 is past the cooldown, its resolve at -20 is not.
    assert notifications(result) == [
        (at(95), "fire", "11 > 5 — fired"),
        (at(25), "fire", "11 > 5 — fired"),
    ]
    assert reasons(result)[at(90)] == "1 ≤ 5 — resolved (notification suppressed by cooldown)"
    assert reasons(result)[at(65)] == "11 > 5 — fired"
    assert reasons(result)[at(20)] == "1 ≤ 5 — resolved (notification suppressed by cooldown)"
    assert (result["fire_count"], result["resolve_count"]) == (2, 0)


def test_below_fires_on_silence(services: Services, project: TestProject) -> None:
    quiet = {60: 0, 55: 0, 50: 0}
    insert_logs(services.log_store, project.id, per_bucket(steady(120, logs=3) | quiet))

    result = simulate(services, project, threshold_count=1, threshold_operator="below")

    # The first check has no history behind it: a count of 0, which a below alert reads as silence.
    assert notifications(result) == [
        (at(120), "fire", "0 < 1 — fired"),
        (at(115), "resolve", "3 ≥ 1 — resolved"),
        (at(55), "fire", "0 < 1 — fired"),
        (at(40), "resolve", "3 ≥ 1 — resolved"),
    ]
    assert reasons(result)[at(45)] == "0 < 1 — still firing"
    assert (result["threshold_operator"], result["fire_count"], result["resolve_count"]) == ("below", 2, 2)


@pytest.mark.parametrize(("operator", "fires"), [("above", 0), ("below", 1)])
def test_empty_history(services: Services, project: TestProject, operator: str, fires: int) -> None:
    result = simulate(services, project, threshold_operator=operator, threshold_count=1)

    assert result["total_buckets"] == 25
    assert all(bucket["count"] == 0 for bucket in result["buckets"])
    assert (result["fire_count"], result["resolve_count"]) == (fires, 0)
    if operator == "above":
        assert set(reasons(result).values()) == {"0 ≤ 1 — OK"}
    else:
        assert {bucket["state"] for bucket in result["buckets"]} == {"firing"}


def test_counts_are_rolling_windows_over_a_gapped_history(services: Services, project: TestProject) -> None:
    insert_logs(services.log_store, project.id, per_bucket({60: 4, 55: 2, 40: 7}))

    result = simulate(services, project, window_minutes=15, threshold_count=100)

    counts = {bucket["timestamp"]: bucket["count"] for bucket in result["buckets"]}
    # The window of the check at T covers [T - 15 min, T): three buckets, the one at T excluded.
    expected = {65: 0, 60: 0, 55: 4, 50: 6, 45: 6, 40: 2, 35: 7, 30: 7, 25: 7, 20: 0}
    assert {minutes: counts[at(minutes)] for minutes in expected} == expected
    assert result["total_buckets"] == 25, "empty buckets are zero-filled"


def test_one_minute_checks_and_an_off_grid_start(services: Services, project: TestProject) -> None:
    # The clock is 2 minutes past the grid, so -2h starts 2 minutes into the bucket at -120.
    now = NOW + timedelta(minutes=2)
    insert_logs(services.log_store, project.id, [NOW - timedelta(minutes=119), NOW - timedelta(minutes=117)])
    service = simulator(services, now)

    five = json.loads(service.simulate(project.id, DRAFT).model_dump_json())
    one = json.loads(service.simulate(project.id, DRAFT | {"check_interval_minutes": 1}).model_dump_json())

    # §5.2 step 3: the bucket before date_from is kept because the query returned it (with the one log
    # at or after date_from); the 1-minute grid starts at date_from exactly.
    assert five["buckets"][0]["timestamp"] == at(120)
    assert five["buckets"][1] == five["buckets"][1] | {"timestamp": at(115), "count": 1}
    assert five["total_buckets"] == 25
    assert one["total_buckets"] == 121
    assert one["buckets"][0]["timestamp"] == at(118)
    ones = {bucket["timestamp"]: bucket["count"] for bucket in one["buckets"]}
    assert [ones[at(m)] for m in (118, 117, 116, 112, 111)] == [0, 0, 1, 1, 0]


def test_thirty_days_back_is_allowed(services: Services, project: TestProject) -> None:
    result = simulate(services, project, date_from="-30d")

    assert result["total_buckets"] == 30 * 288 + 1


# --- compare_to ------------------------------------------------------------------------------------


def test_compare_to_replays_the_saved_alert_over_the_same_history(
    services: Services, project: TestProject
) -> None:
    insert_logs(services.log_store, project.id, per_bucket(steady(120) | {100: 8, 60: 30, 55: 30, 30: 8}))
    saved = services.alerts.create(
        project.id,
        {"name": "checkout errors", "filters": CHECKOUT, "threshold_count": 5},
        created_by_key_id=None,
    )

    result = simulate(services, project, threshold_count=20, compare_to=str(saved.id))
    saved_alone = simulate(services, project, threshold_count=5)

    comparison = result["comparison"]
    assert comparison["draft"] == {
        "fire_count": result["fire_count"],
        "resolve_count": result["resolve_count"],
        "minutes_firing": 10,  # firing after the checks at -55 and -50
    }
    assert comparison["saved"] == comparison["saved"] | {
        "alert_id": str(saved.id),
        "name": "checkout errors",
        "threshold_count": 5,
        "fire_count": saved_alone["fire_count"],
        "resolve_count": saved_alone["resolve_count"],
        "minutes_firing": 5 * sum(bucket["state"] == "firing" for bucket in saved_alone["buckets"]),
    }
    assert (comparison["saved"]["fire_count"], comparison["draft"]["fire_count"]) == (3, 1)


def test_compare_to_must_be_an_alert_of_this_project(services: Services, project: TestProject) -> None:
    other = services.accounts.create_project("simulate-other")
    assert other.id is not None
    foreign = services.alerts.create(other.id, {"filters": CHECKOUT}, created_by_key_id=None)

    for alert_id in (str(foreign.id), str(uuid4()), "not-a-uuid"):
        with pytest.raises(Exception, match="No alert") as error:
            simulate(services, project, compare_to=alert_id)
        assert getattr(error.value, "attr", None) == "compare_to"


# --- validation through REST and MCP ---------------------------------------------------------------

INVALID: list[tuple[dict[str, Any], str, str | None]] = [
    ({"filters": {}}, EMPTY_FILTER, "filters"),
    ({"filters": {"serviceNames": [], "severityLevels": []}}, EMPTY_FILTER, "filters"),
    ({"filters": ["checkout"]}, "Must be a JSON object.", "filters"),
    (
        {"filters": {"services": ["x"]}},
        "Invalid filters shape at `services`: Extra inputs are not permitted",
        "filters",
    ),
    ({"filters": None}, "Must be a JSON object.", "filters"),
    ({"threshold_count": 0}, "Ensure this value is greater than or equal to 1.", "threshold_count"),
    ({"threshold_count": "many"}, "A valid integer is required.", "threshold_count"),
    ({"threshold_operator": "sideways"}, '"sideways" is not a valid choice.', "threshold_operator"),
    ({"window_minutes": 7}, "Must be one of [5, 10, 15, 30, 60].", "window_minutes"),
    (
        {"check_interval_minutes": 0},
        "Ensure this value is greater than or equal to 1.",
        "check_interval_minutes",
    ),
    (
        {"check_interval_minutes": 61},
        "Ensure this value is less than or equal to 60.",
        "check_interval_minutes",
    ),
    ({"check_interval_minutes": 10}, "Cannot exceed window_minutes.", "check_interval_minutes"),
    ({"evaluation_periods": 11}, "Ensure this value is less than or equal to 10.", "evaluation_periods"),
    ({"datapoints_to_alarm": 0}, "Ensure this value is greater than or equal to 1.", "datapoints_to_alarm"),
    (
        {"evaluation_periods": 2, "datapoints_to_alarm": 3},
        "Cannot exceed evaluation_periods.",
        "datapoints_to_alarm",
    ),
    ({"cooldown_minutes": -1}, "Ensure this value is greater than or equal to 0.", "cooldown_minutes"),
    ({"date_from": "last tuesday"}, "Invalid date_from value.", "date_from"),
    ({"date_from": "-31d"}, "date_from cannot be more than 30 days in the past.", "date_from"),
    ({"date_from": "+1h"}, "Invalid date_from value.", "date_from"),
    ({"date_from": "2999-01-01T00:00:00Z"}, "date_from cannot be in the future.", "date_from"),
    (
        {"check_interval_minutes": 1, "date_from": "-11d"},
        "Simulation would produce 15841 buckets (max 15000). Use a shorter date range or larger window.",
        "date_from",
    ),
    # Several bad fields: the first in §5.1's order is reported.
    (
        {"date_from": "nope", "window_minutes": 7, "threshold_count": 0},
        "Ensure this value is greater than or equal to 1.",
        "threshold_count",
    ),
]
MISSING = ["filters", "threshold_count", "threshold_operator", "window_minutes", "date_from"]


def rest(
    server_url: str, project: TestProject, endpoint: str, body: Any, key: str | None = None
) -> httpx.Response:
    url = f"{server_url}/api/projects/{project.id}/logs/alerts/{endpoint}"
    return httpx.post(
        url, json=body, headers={"Authorization": f"Bearer {key or project.api_key}"}, timeout=60
    )


def call_tool(
    services: Services, project: TestProject, tool: str, arguments: dict[str, Any]
) -> CallToolResult:
    local = Principal(frozenset({READ}), frozenset({project.id}), default_project_id=project.id)
    server = build_mcp_server(services, local_principal=local, http_auth=False)

    async def run() -> CallToolResult:
        async with Client(server) as client:
            return await client.call_tool(tool, arguments)

    return anyio.run(run)


def tool_error(result: CallToolResult) -> str:
    assert result.is_error
    return " ".join(block.text for block in result.content if block.type == "text")


@pytest.mark.parametrize(("changes", "message", "attr"), INVALID)
def test_simulate_validation_over_rest(
    server_url: str, project: TestProject, changes: dict[str, Any], message: str, attr: str | None
) -> None:
    response = rest(server_url, project, "simulate/", DRAFT | changes)

    assert response.status_code == 400, response.text
    assert response.json() == {
        "type": "validation_error",
        "code": response.json()["code"],
        "detail": message,
        "attr": attr,
    }


@pytest.mark.parametrize(("changes", "message", "attr"), INVALID)
def test_simulate_validation_over_mcp(
    services: Services, project: TestProject, changes: dict[str, Any], message: str, attr: str | None
) -> None:
    result = call_tool(services, project, "logs-alerts-simulate-create", {"simulation": DRAFT | changes})

    assert tool_error(result).endswith(f": {message} (field: {attr})")


@pytest.mark.parametrize("field", MISSING)
def test_simulate_requires_its_fields(
    services: Services, server_url: str, project: TestProject, field: str
) -> None:
    body = {key: value for key, value in DRAFT.items() if key != field}

    response = rest(server_url, project, "simulate", body)
    result = call_tool(services, project, "logs-alerts-simulate-create", {"simulation": body})

    assert (response.status_code, response.json()["detail"], response.json()["attr"]) == (
        400,
        "This field is required.",
        field,
    )
    assert tool_error(result).endswith(f": This field is required. (field: {field})")


def test_rest_simulate_needs_only_read_scope_and_answers_the_spec_shape(
    services: Services, server_url: str, project: TestProject
) -> None:
    insert_logs(services.log_store, project.id, per_bucket(steady(30) | {15: 9}))
    reader = services.accounts.create_api_key([project.id], [READ], label="reader").key

    with_slash = rest(server_url, project, "simulate/", DRAFT | {"date_from": "-1h"}, key=reader)
    without = rest(server_url, project, "simulate", DRAFT | {"date_from": "-1h"}, key=reader)
    anonymous = httpx.post(f"{server_url}/api/projects/{project.id}/logs/alerts/simulate/", json=DRAFT)

    assert with_slash.status_code == without.status_code == 200, with_slash.text
    body = with_slash.json()
    assert "comparison" not in body
    assert body["fire_count"] == 1 and body["total_buckets"] in (12, 13)
    assert body["buckets"][0]["timestamp"].endswith("+00:00")
    assert anonymous.status_code == 401


def test_mcp_simulate_lists_the_changes_and_is_read_only(services: Services, project: TestProject) -> None:
    insert_logs(services.log_store, project.id, per_bucket(steady(120) | {60: 11, 55: 11}))
    arguments = {"simulation": DRAFT}

    changes = call_tool(services, project, "logs-alerts-simulate-create", arguments)
    breached = call_tool(services, project, "logs-alerts-simulate-create", arguments | {"shown": "breached"})
    everything = call_tool(services, project, "logs-alerts-simulate-create", arguments | {"shown": "all"})
    tools = anyio.run(_list_tools, services, project)

    assert not changes.is_error, changes.content
    listed = changes.structured_content
    assert listed is not None and listed["shown"] == "changes"
    assert [bucket["notification"] for bucket in listed["buckets"]] == ["fire", "resolve"]
    assert listed["total_buckets"] >= 24 and listed["fire_count"] == 1
    assert breached.structured_content is not None and len(breached.structured_content["buckets"]) == 3
    assert everything.structured_content is not None
    assert len(everything.structured_content["buckets"]) == everything.structured_content["total_buckets"]
    for name in ("logs-alerts-simulate-create", "logs-alerts-suggest-threshold"):
        annotations = tools[name].annotations
        assert annotations is not None and annotations.read_only_hint is True
        assert "0-3" in (tools[name].description or "")


async def _list_tools(services: Services, project: TestProject) -> dict[str, Any]:
    local = Principal(frozenset({READ}), frozenset({project.id}), default_project_id=project.id)
    async with Client(build_mcp_server(services, local_principal=local, http_auth=False)) as client:
        return {tool.name: tool for tool in (await client.list_tools()).tools}


def test_mcp_simulate_of_30_days_fits_the_token_budget(services: Services, project: TestProject) -> None:
    result = call_tool(
        services,
        project,
        "logs-alerts-simulate-create",
        {"simulation": DRAFT | {"date_from": "-30d"}, "shown": "all"},
    )

    assert result.structured_content is not None
    assert result.structured_content["total_buckets"] in (8640, 8641)
    assert result.structured_content["truncated"] is True
    assert 0 < len(result.structured_content["buckets"]) < 8641
    text = result.content[0].text  # type: ignore[union-attr]
    assert len(text) <= services.settings.mcp_token_budget * 4


# --- suggest-threshold -----------------------------------------------------------------------------


def week_of_logs(seed: int, spike: dict[int, int] | None = None) -> dict[int, int]:
    """Seven days of 15-25 logs per 5-minute bucket (plus ``spike``), keyed by minutes before NOW."""
    rng = random.Random(seed)
    counts = {minutes: rng.randint(15, 25) for minutes in range(5, 7 * 24 * 60 + 1, 5)}
    for minutes, extra in (spike or {}).items():
        counts[minutes] += extra
    return counts


def suggest(services: Services, project: TestProject, **payload: Any) -> dict[str, Any]:
    response = simulator(services).suggest_threshold(project.id, {"filters": CHECKOUT} | payload)
    return json.loads(response.model_dump_json())


def test_suggestion_on_a_steady_baseline_stays_quiet(services: Services, project: TestProject) -> None:
    counts = week_of_logs(1)
    insert_logs(services.log_store, project.id, per_bucket(counts))

    result = suggest(services, project)

    ordered = sorted(counts.values())
    baseline = result["baseline"]
    assert baseline["total_logs"] == sum(counts.values())
    assert baseline["windows"] == 7 * 288  # every check of the week but the first, which has no window
    assert (baseline["min"], baseline["max"]) == (15, 25)
    assert baseline["p50"] == ordered[len(ordered) // 2 - 1] or baseline["p50"] == ordered[len(ordered) // 2]
    assert result["health"] == {"empty": False, "sparse": False, "flat": False, "spiky": False}
    assert result["threshold_count"] == 45  # ceil(max(1.2 × 25, 25 + 4·√25))
    assert result["threshold_operator"] == "above"
    assert result["simulation"] == {"fire_count": 0, "resolve_count": 0, "minutes_firing": 0}
    assert result["fires_per_week"] == 0
    assert result["date_from"] == (NOW - timedelta(days=7)).isoformat()
    assert "p99" in result["method"] and "logs-alerts-simulate-create" in result["hint"]


def test_suggestion_on_a_spiky_baseline_catches_the_spike(services: Services, project: TestProject) -> None:
    insert_logs(services.log_store, project.id, per_bucket(week_of_logs(2, spike={3000: 200, 2995: 150})))

    result = suggest(services, project, window_minutes=10)

    assert result["health"]["spiky"] is True
    assert result["baseline"]["max"] >= 350
    assert result["threshold_count"] < 150
    assert result["simulation"]["fire_count"] == 1
    assert result["simulation"]["minutes_firing"] >= 5

    replayed = simulate(
        services, project, date_from="-7d", window_minutes=10, threshold_count=result["threshold_count"]
    )
    assert notifications(replayed)[0][:2] == (at(2995), "fire")


def test_below_suggestion_on_a_flat_stream(services: Services, project: TestProject) -> None:
    insert_logs(services.log_store, project.id, per_bucket(dict.fromkeys(range(5, 2 * 24 * 60 + 1, 5), 12)))

    result = suggest(services, project, threshold_operator="below", date_from="-2d")

    assert result["health"] == {"empty": False, "sparse": False, "flat": True, "spiky": False}
    assert result["threshold_count"] == 1  # floor(min(12 / 1.2, 12 - 4·√12)) = -1 → at least 1
    assert result["simulation"]["fire_count"] == 0


def test_suggestion_on_sparse_and_empty_histories(services: Services, project: TestProject) -> None:
    insert_logs(services.log_store, project.id, per_bucket({600: 3, 300: 1}))

    sparse = suggest(services, project, date_from="-1d")
    sparse_below = suggest(services, project, date_from="-1d", threshold_operator="below")
    empty = suggest(services, project, filters={"serviceNames": ["nothing"]}, date_from="-1d")

    assert sparse["health"]["sparse"] is True and sparse["threshold_count"] == 4  # ceil(0 + 4·√1)
    assert "window" in sparse_below["hint"]
    assert empty["health"]["empty"] is True
    assert (empty["threshold_count"], empty["simulation"], empty["fires_per_week"]) == (None, None, None)
    assert "logs-services" in empty["hint"]


def test_suggest_threshold_over_rest_and_mcp(
    services: Services, server_url: str, project: TestProject
) -> None:
    insert_logs(services.log_store, project.id, per_bucket(steady(600, logs=4)))
    body = {"filters": CHECKOUT, "date_from": "-6h"}

    response = rest(server_url, project, "suggest-threshold/", body)
    result = call_tool(services, project, "logs-alerts-suggest-threshold", {"draft": body})
    bad = rest(server_url, project, "suggest-threshold", {"filters": {}})
    too_short = rest(server_url, project, "suggest-threshold", body | {"date_from": "-5M"})

    assert response.status_code == 200, response.text
    assert response.json()["threshold_count"] == result.structured_content["threshold_count"] == 12  # type: ignore[index]
    assert response.json()["date_to"].endswith("+00:00")
    assert (bad.status_code, bad.json()["detail"], bad.json()["attr"]) == (400, EMPTY_FILTER, "filters")
    assert (too_short.status_code, too_short.json()["attr"]) == (400, "date_from")
