"""The alert service on a real state store (SQLite, and PostgreSQL when configured): validation in the
spec's order (alerts.md §1.2), drafts and the cap, every control-plane transition with its event row
(§2.6–§2.8, §2.10), the events list (§3.6), last_error_message (§3.5), state_timeline (§2.13),
destination_types (§6.7) and project scoping."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from logs_mcp.alerts.models import Alert
from logs_mcp.alerts.service import AlertService
from logs_mcp.config import Settings
from logs_mcp.errors import InvalidInput, NotFound
from logs_mcp.store.alert_tables import AlertDestination, AlertEventRow, NotificationRule

from .conftest import START, AlertStore

SERVICE = {"serviceNames": ["checkout"]}
ERRORS = {"severityLevels": ["error"]}


def create(store: AlertStore, **payload: Any) -> Alert:
    return store.service.create(
        store.project_id, {"filters": SERVICE} | payload, created_by_key_id=store.key_id
    )


def patch(store: AlertStore, alert: Alert, **payload: Any) -> Alert:
    return store.service.update(store.project_id, str(alert.id), payload, partial=True)


def kinds(store: AlertStore, alert: Alert) -> list[tuple[str, str, str]]:
    return [(row.kind, row.state_before, row.state_after) for row in store.event_rows(alert.id)]


# --- create ----------------------------------------------------------------------------------------


def test_create_fills_the_spec_defaults_and_records_who(store: AlertStore) -> None:
    alert = create(store, name="  ")

    assert alert.model_dump(
        include={
            "name",
            "enabled",
            "threshold_count",
            "threshold_operator",
            "window_minutes",
            "check_interval_minutes",
            "state",
            "evaluation_periods",
            "datapoints_to_alarm",
            "cooldown_minutes",
            "snooze_until",
            "next_check_at",
            "consecutive_failures",
            "last_error_message",
            "destination_types",
            "updated_at",
        }
    ) == {
        "name": "Untitled alert",
        "enabled": True,
        "threshold_count": 100,
        "threshold_operator": "above",
        "window_minutes": 5,
        "check_interval_minutes": 5,
        "state": "not_firing",
        "evaluation_periods": 1,
        "datapoints_to_alarm": 1,
        "cooldown_minutes": 0,
        "snooze_until": None,
        "next_check_at": None,
        "consecutive_failures": 0,
        "last_error_message": None,
        "destination_types": [],
        "updated_at": None,
    }
    assert alert.created_at == alert.first_enabled_at == START
    assert alert.created_by.model_dump() == {"id": store.key_id, "label": "ci key"}
    assert [(i.start, i.end, i.state, i.enabled) for i in alert.state_timeline] == [
        (START - timedelta(hours=24), START, "not_firing", True)
    ]
    assert kinds(store, alert) == []  # create writes no event row (§7)


def test_read_only_input_is_ignored_and_names_are_trimmed(store: AlertStore) -> None:
    alert = create(store, name=" disk full ", state="firing", check_interval_minutes=1, id="x", bogus=1)

    assert (alert.name, alert.state, alert.check_interval_minutes) == ("disk full", "not_firing", 5)


def test_a_local_creator_has_no_key(store: AlertStore) -> None:
    alert = store.service.create(store.project_id, {"enabled": False}, created_by_key_id=None)

    assert alert.created_by.model_dump() == {"id": None, "label": "local user"}


@pytest.mark.parametrize(
    ("payload", "attr", "detail"),
    [
        ({}, "filters", "At least one filter is required (severityLevels, serviceNames, or filterGroup)."),
        ({"filters": {"serviceNames": [], "severityLevels": None}}, "filters", None),
        ({"enabled": False, "filters": {"serviceNames": []}}, "filters", None),
        ({"filters": []}, "filters", "Must be a JSON object."),
        ({"filters": "service"}, "filters", "Must be a JSON object."),
        ({"filters": None}, "filters", "Must be a JSON object."),
        (
            {"filters": {"dateRange": {"date_from": "-1h"}}},
            "filters",
            "Invalid filters shape at `dateRange`: ",
        ),
        (
            {"filters": {"severityLevels": ["loud"]}},
            "filters",
            "Invalid filters shape at `severityLevels.0`: ",
        ),
        (
            {
                "filters": {
                    "filterGroup": {"type": "AND", "values": [{"type": "AND", "values": [{"key": "a"}]}]}
                }
            },
            "filters",
            "Invalid filters shape at `filterGroup.values.0.values.0.type`: ",
        ),
        ({"filters": SERVICE, "window_minutes": 7}, "window_minutes", "Must be one of [5, 10, 15, 30, 60]."),
        (
            {"filters": SERVICE, "evaluation_periods": 2, "datapoints_to_alarm": 3},
            "datapoints_to_alarm",
            "Cannot exceed evaluation_periods (3 > 2).",
        ),
        (
            {"filters": SERVICE, "datapoints_to_alarm": 2},
            "datapoints_to_alarm",
            "Cannot exceed evaluation_periods (2 > 1).",
        ),
        (
            {"filters": SERVICE, "snooze_until": "2025-03-10T12:00:00Z"},
            "snooze_until",
            "Must be a future datetime.",
        ),
        (
            {"filters": SERVICE, "threshold_count": 0},
            "threshold_count",
            "Ensure this value is greater than or equal to 1.",
        ),
        (
            {"filters": SERVICE, "cooldown_minutes": -1},
            "cooldown_minutes",
            "Ensure this value is greater than or equal to 0.",
        ),
        (
            {"filters": SERVICE, "evaluation_periods": 11},
            "evaluation_periods",
            "Ensure this value is less than or equal to 10.",
        ),
        (
            {"filters": SERVICE, "datapoints_to_alarm": 0},
            "datapoints_to_alarm",
            "Ensure this value is greater than or equal to 1.",
        ),
        ({"filters": SERVICE, "threshold_count": "many"}, "threshold_count", "A valid integer is required."),
        (
            {"filters": SERVICE, "threshold_operator": "equals"},
            "threshold_operator",
            '"equals" is not a valid choice.',
        ),
        ({"filters": SERVICE, "enabled": None}, "enabled", "This field may not be null."),
        (
            {"filters": SERVICE, "name": "x" * 256},
            "name",
            "Ensure this field has no more than 255 characters.",
        ),
        ({"filters": SERVICE, "snooze_until": "soon"}, "snooze_until", "Datetime has wrong format. "),
    ],
)
def test_create_validation_messages(
    store: AlertStore, payload: dict[str, Any], attr: str, detail: str | None
) -> None:
    with pytest.raises(InvalidInput) as raised:
        store.service.create(store.project_id, payload, created_by_key_id=None)

    assert raised.value.attr == attr
    expected = detail or "At least one filter is required (severityLevels, serviceNames, or filterGroup)."
    assert raised.value.detail.startswith(expected), raised.value.detail
    assert store.service.list_alerts(store.project_id, url="http://x/").count == 0


def test_cross_field_checks_run_in_the_spec_order(store: AlertStore) -> None:
    everything_wrong = {"window_minutes": 7, "datapoints_to_alarm": 3, "snooze_until": "2000-01-01T00:00:00Z"}
    attrs = []
    for fixed in ({}, {"filters": SERVICE}, {"window_minutes": 5}, {"datapoints_to_alarm": 1}):
        everything_wrong |= fixed
        with pytest.raises(InvalidInput) as raised:
            store.service.create(store.project_id, everything_wrong, created_by_key_id=None)
        attrs.append(raised.value.attr)

    assert attrs == ["filters", "window_minutes", "datapoints_to_alarm", "snooze_until"]


def test_an_empty_filter_group_object_counts_as_a_filter(store: AlertStore) -> None:
    alert = create(store, filters={"filterGroup": {"type": "AND", "values": []}})

    assert alert.filters == {"filterGroup": {"type": "AND", "values": []}}


def test_drafts_need_no_filters_until_enabled(store: AlertStore) -> None:
    draft = store.service.create(store.project_id, {"enabled": False}, created_by_key_id=None)
    assert (draft.enabled, draft.filters, draft.first_enabled_at) == (False, {}, None)

    with pytest.raises(InvalidInput) as raised:
        patch(store, draft, enabled=True)
    assert raised.value.attr == "filters"
    assert kinds(store, draft) == []

    store.clock.advance(minutes=3)
    enabled = patch(store, draft, enabled=True, filters=ERRORS)
    assert (enabled.enabled, enabled.first_enabled_at) == (True, store.clock.now)
    assert kinds(store, draft) == [("enable", "not_firing", "not_firing")]

    store.clock.advance(minutes=3)
    patch(store, draft, enabled=False)
    again = patch(store, draft, enabled=True)
    assert again.first_enabled_at == START + timedelta(minutes=3)  # never overwritten


def test_the_cap_counts_drafts_and_is_per_project(store: AlertStore) -> None:
    create(store)
    store.service.create(store.project_id, {"enabled": False}, created_by_key_id=None)
    create(store, enabled=False)

    with pytest.raises(InvalidInput) as raised:
        create(store)
    assert (raised.value.detail, raised.value.attr) == (
        "Maximum number of alerts (3) reached for this project.",
        None,
    )
    other = store.service.create(store.other_project_id, {"filters": SERVICE}, created_by_key_id=None)
    assert other.id


def test_uncapped_projects_are_exempt(store: AlertStore) -> None:
    settings = Settings(alerts_per_project_cap=1, alerts_uncapped_project_ids=frozenset({store.project_id}))
    service = AlertService(store.engine, settings, clock=store.clock)
    for _ in range(3):
        service.create(store.project_id, {"filters": SERVICE}, created_by_key_id=None)

    assert service.list_alerts(store.project_id, url="http://x/").count == 3


# --- transitions (§2.6–§2.8) -----------------------------------------------------------------------

FUTURE = (START + timedelta(hours=2)).isoformat()


@pytest.mark.parametrize(
    ("stored", "payload", "expected", "event"),
    [
        # §2.7 enable / disable
        (
            {"state": "firing", "consecutive_failures": 2},
            {"enabled": False},
            ("not_firing", False, 2),
            "disable",
        ),
        (
            {"state": "broken", "consecutive_failures": 5},
            {"enabled": False},
            ("not_firing", False, 5),
            "disable",
        ),
        (
            {"state": "not_firing", "enabled": False, "consecutive_failures": 3},
            {"enabled": True},
            ("not_firing", True, 0),
            "enable",
        ),
        ({"state": "firing"}, {"enabled": True}, ("firing", True, 0), None),
        # §2.6 snooze / unsnooze
        (
            {"state": "firing", "consecutive_failures": 2},
            {"snooze_until": FUTURE},
            ("snoozed", True, 2),
            "snooze",
        ),
        (
            {"state": "firing", "consecutive_failures": 2},
            {"snooze_until": None},
            ("not_firing", True, 0),
            "unsnooze",
        ),
        (
            {"state": "broken", "consecutive_failures": 5},
            {"snooze_until": None},
            ("not_firing", True, 0),
            "unsnooze",
        ),
        # §2.8 threshold change
        (
            {"state": "firing", "consecutive_failures": 1},
            {"threshold_count": 5},
            ("not_firing", True, 0),
            "threshold_change",
        ),
        (
            {"state": "broken", "consecutive_failures": 5},
            {"filters": ERRORS},
            ("not_firing", True, 0),
            "threshold_change",
        ),
        ({"state": "firing"}, {"threshold_operator": "below"}, ("not_firing", True, 0), "threshold_change"),
        ({"state": "firing"}, {"evaluation_periods": 3}, ("not_firing", True, 0), "threshold_change"),
        (
            {"state": "snoozed", "consecutive_failures": 2, "snooze_until": START + timedelta(hours=1)},
            {"threshold_count": 5},
            ("snoozed", True, 2),
            "threshold_change",
        ),
        # no transition
        ({"state": "firing"}, {"window_minutes": 10}, ("firing", True, 0), None),
        ({"state": "firing"}, {"name": "renamed", "cooldown_minutes": 30}, ("firing", True, 0), None),
        ({"state": "firing"}, {"threshold_count": 100, "filters": SERVICE}, ("firing", True, 0), None),
        # priority: enable/disable > snooze > threshold
        (
            {"state": "firing"},
            {"enabled": False, "snooze_until": FUTURE, "threshold_count": 5},
            ("not_firing", False, 0),
            "disable",
        ),
        ({"state": "firing"}, {"snooze_until": FUTURE, "threshold_count": 5}, ("snoozed", True, 0), "snooze"),
    ],
)
def test_patch_transitions_write_one_event(
    store: AlertStore,
    stored: dict[str, Any],
    payload: dict[str, Any],
    expected: tuple[str, bool, int],
    event: str | None,
) -> None:
    alert = create(store)
    store.force(alert.id, **stored)
    before = stored["state"]

    updated = patch(store, alert, **payload)

    assert (updated.state, updated.enabled, updated.consecutive_failures) == expected
    assert kinds(store, alert) == ([(event, before, expected[0])] if event else [])
    rows = store.event_rows(alert.id)
    if rows:
        row = rows[0]
        assert (row.threshold_breached, row.result_count, row.error_message, row.query_duration_ms) == (
            False,
            None,
            None,
            None,
        )
        assert row.created_at == START


def test_snooze_until_is_stored_even_when_enable_wins(store: AlertStore) -> None:
    alert = create(store, enabled=False)

    updated = patch(store, alert, enabled=True, snooze_until=FUTURE)

    assert (updated.state, updated.snooze_until) == ("not_firing", START + timedelta(hours=2))
    assert kinds(store, alert) == [("enable", "not_firing", "not_firing")]


def test_snooze_key_present_writes_an_event_even_when_unchanged(store: AlertStore) -> None:
    alert = create(store)
    patch(store, alert, snooze_until=FUTURE)
    patch(store, alert, snooze_until=FUTURE)

    assert kinds(store, alert) == [("snooze", "not_firing", "snoozed"), ("snooze", "snoozed", "snoozed")]


@pytest.mark.parametrize(
    ("payload", "cleared"),
    [
        ({"threshold_count": 5}, True),
        ({"filters": ERRORS}, True),
        ({"datapoints_to_alarm": 1, "evaluation_periods": 2}, True),
        ({"window_minutes": 15}, True),
        ({"name": "x", "cooldown_minutes": 10}, False),
        ({"enabled": False}, False),
    ],
)
def test_evaluation_and_window_changes_schedule_a_recheck(
    store: AlertStore, payload: dict[str, Any], cleared: bool
) -> None:
    alert = create(store)
    slot = START + timedelta(minutes=5)
    store.force(alert.id, next_check_at=slot)

    updated = patch(store, alert, **payload)

    assert updated.next_check_at == (None if cleared else slot)
    assert updated.updated_at == START


def test_put_resets_omitted_fields_to_defaults(store: AlertStore) -> None:
    alert = create(
        store,
        name="kept",
        threshold_count=50,
        threshold_operator="below",
        window_minutes=30,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        cooldown_minutes=15,
    )
    store.force(alert.id, state="firing")

    replaced = store.service.update(store.project_id, str(alert.id), {"filters": ERRORS}, partial=False)

    assert replaced.model_dump(
        include={
            "name",
            "filters",
            "threshold_count",
            "threshold_operator",
            "window_minutes",
            "evaluation_periods",
            "datapoints_to_alarm",
            "cooldown_minutes",
            "state",
        }
    ) == {
        "name": "kept",
        "filters": ERRORS,
        "threshold_count": 100,
        "threshold_operator": "above",
        "window_minutes": 5,
        "evaluation_periods": 1,
        "datapoints_to_alarm": 1,
        "cooldown_minutes": 0,
        "state": "not_firing",
    }
    assert kinds(store, alert) == [("threshold_change", "firing", "not_firing")]


def test_put_without_enabled_enables_a_draft_and_then_needs_filters(store: AlertStore) -> None:
    draft = store.service.create(store.project_id, {"enabled": False}, created_by_key_id=None)

    with pytest.raises(InvalidInput) as raised:
        store.service.update(store.project_id, str(draft.id), {"name": "x"}, partial=False)

    assert raised.value.attr == "filters"


def test_update_validation_uses_stored_values(store: AlertStore) -> None:
    alert = create(store, evaluation_periods=3, datapoints_to_alarm=2)

    with pytest.raises(InvalidInput) as raised:
        patch(store, alert, evaluation_periods=1)

    assert (raised.value.detail, raised.value.attr) == (
        "Cannot exceed evaluation_periods (2 > 1).",
        "datapoints_to_alarm",
    )


def test_a_rejected_update_changes_nothing(store: AlertStore) -> None:
    alert = create(store)
    store.force(alert.id, state="firing")

    with pytest.raises(InvalidInput):
        patch(store, alert, enabled=False, snooze_until="2020-01-01T00:00:00Z")

    unchanged = store.service.retrieve(store.project_id, str(alert.id))
    assert (unchanged.state, unchanged.enabled, unchanged.updated_at) == ("firing", True, None)
    assert kinds(store, alert) == []


# --- reset (§2.10) ---------------------------------------------------------------------------------


def test_reset_brings_a_broken_alert_back(store: AlertStore) -> None:
    alert = create(store)
    store.force(alert.id, state="broken", consecutive_failures=5, next_check_at=START)

    reset = store.service.reset(store.project_id, str(alert.id))

    assert (reset.state, reset.consecutive_failures, reset.next_check_at) == ("not_firing", 0, None)
    assert kinds(store, alert) == [("reset", "broken", "not_firing")]


@pytest.mark.parametrize("state", ["not_firing", "firing", "snoozed", "errored"])
def test_reset_refuses_other_states(store: AlertStore, state: str) -> None:
    alert = create(store)
    store.force(alert.id, state=state)

    with pytest.raises(InvalidInput) as raised:
        store.service.reset(store.project_id, str(alert.id))

    assert (raised.value.detail, raised.value.attr) == ("Only broken alerts can be reset.", "state")
    assert kinds(store, alert) == []


# --- events (§3.5, §3.6) ---------------------------------------------------------------------------


def test_events_hide_quiet_checks_newest_first(store: AlertStore) -> None:
    alert = create(store)
    clock = store.clock
    store.add_event(alert.id)  # quiet
    clock.advance(minutes=5)
    store.add_event(alert.id, state_after="firing", threshold_breached=True, result_count=120)
    clock.advance(minutes=5)
    store.add_event(alert.id, state_before="firing", state_after="firing", result_count=130)  # quiet
    clock.advance(minutes=5)
    store.add_event(alert.id, state_before="firing", state_after="firing", error_message="boom")
    clock.advance(minutes=5)
    patch(store, alert, enabled=False)

    page = store.service.list_events(store.project_id, str(alert.id), url="http://h/events/")

    assert page.count == 3
    assert [(e.kind, e.state_after, e.error_message) for e in page.results] == [
        ("disable", "not_firing", None),
        ("check", "firing", "boom"),
        ("check", "firing", None),
    ]
    assert page.results[2].result_count == 120
    assert (page.next, page.previous) == (None, None)

    checks = store.service.list_events(store.project_id, str(alert.id), kind="check", url="http://h/e/")
    assert [e.created_at for e in checks.results] == [
        START + timedelta(minutes=15),
        START + timedelta(minutes=5),
    ]


def test_events_reject_an_unknown_kind(store: AlertStore) -> None:
    alert = create(store)

    with pytest.raises(InvalidInput) as raised:
        store.service.list_events(store.project_id, str(alert.id), kind="fire", url="http://h/")

    assert raised.value.attr == "kind"
    assert raised.value.detail == (
        "Must be one of ['broken_config', 'check', 'disable', 'enable', 'reset', 'snooze', "
        "'threshold_change', 'unsnooze']."
    )


def test_events_paginate_with_limit_and_offset(store: AlertStore) -> None:
    alert = create(store)
    for _ in range(5):
        store.clock.advance(minutes=1)
        patch(store, alert, snooze_until=(store.clock.now + timedelta(hours=1)).isoformat())

    url = "http://h/api/projects/1/logs/alerts/x/events/?kind=snooze"
    first = store.service.list_events(store.project_id, str(alert.id), kind="snooze", limit=2, url=url)
    middle = store.service.list_events(
        store.project_id, str(alert.id), kind="snooze", limit=2, offset=2, url=url
    )
    last = store.service.list_events(
        store.project_id, str(alert.id), kind="snooze", limit=2, offset=4, url=url
    )

    assert [page.count for page in (first, middle, last)] == [5, 5, 5]
    assert [len(page.results) for page in (first, middle, last)] == [2, 2, 1]
    assert first.previous is None
    assert first.next == "http://h/api/projects/1/logs/alerts/x/events/?kind=snooze&limit=2&offset=2"
    assert middle.previous == "http://h/api/projects/1/logs/alerts/x/events/?kind=snooze&limit=2"
    assert last.next is None
    created = [e.created_at for page in (first, middle, last) for e in page.results]
    assert created == sorted(created, reverse=True)


def test_last_error_message_is_the_newest_check_error_and_survives_recovery(store: AlertStore) -> None:
    alert = create(store)
    store.add_event(alert.id, error_message="first failure")
    store.clock.advance(minutes=5)
    store.add_event(alert.id, error_message="second failure")
    store.clock.advance(minutes=5)
    store.add_event(alert.id, state_after="firing")  # recovery row without a message
    store.clock.advance(minutes=5)
    store.add_event(alert.id, kind="broken_config", state_after="broken", error_message="not a check")

    assert store.service.retrieve(store.project_id, str(alert.id)).last_error_message == "second failure"


# --- derived fields --------------------------------------------------------------------------------


def test_state_timeline_across_enable_disable_and_snooze(store: AlertStore) -> None:
    clock = store.clock
    alert = create(store)
    at = {}
    clock.advance(hours=1)
    at["disable"] = clock.now
    patch(store, alert, enabled=False)
    clock.advance(hours=1)
    at["enable"] = clock.now
    patch(store, alert, enabled=True)
    clock.advance(hours=1)
    at["snooze"] = clock.now
    patch(store, alert, snooze_until=(clock.now + timedelta(hours=2)).isoformat())
    clock.advance(hours=1)
    at["unsnooze"] = clock.now
    patch(store, alert, snooze_until=None)
    clock.advance(hours=1)

    timeline = store.service.retrieve(store.project_id, str(alert.id)).state_timeline

    assert [(i.start, i.end, i.state, i.enabled) for i in timeline] == [
        (clock.now - timedelta(hours=24), at["disable"], "not_firing", True),
        (at["disable"], at["enable"], "not_firing", False),
        (at["enable"], at["snooze"], "not_firing", True),
        (at["snooze"], at["unsnooze"], "snoozed", True),
        (at["unsnooze"], clock.now, "not_firing", True),
    ]

    clock.advance(hours=26)  # only the toggle before the window seeds it now
    later = store.service.retrieve(store.project_id, str(alert.id)).state_timeline
    assert [(i.state, i.enabled) for i in later] == [("not_firing", True)]


def test_destination_types_are_sorted_and_distinct(store: AlertStore) -> None:
    alert = create(store)
    add_destination(store, alert, "webhook")
    add_destination(store, alert, "slack")
    add_destination(store, alert, "webhook")

    assert store.service.retrieve(store.project_id, str(alert.id)).destination_types == ["slack", "webhook"]


def add_destination(store: AlertStore, alert: Alert, type_: str) -> None:
    with Session(store.engine) as session:
        destination = AlertDestination(alert_id=alert.id, type=type_)
        session.add(destination)
        session.flush()
        for kind in ("firing", "resolved", "broken", "errored"):
            session.add(
                NotificationRule(
                    destination_id=destination.id,
                    alert_id=alert.id,
                    kind=kind,
                    type=type_,
                    config={"webhook_url": "https://example.com/hook"},
                )
            )
        session.commit()


def test_list_is_newest_first_and_paginated(store: AlertStore) -> None:
    names = []
    for index in range(3):
        store.clock.advance(minutes=1)
        names.append(create(store, name=f"a{index}").name)

    first = store.service.list_alerts(store.project_id, limit=2, url="http://h/alerts/")
    second = store.service.list_alerts(store.project_id, limit=2, offset=2, url="http://h/alerts/")

    assert [a.name for a in first.results + second.results] == list(reversed(names))
    assert (first.count, first.next, second.previous) == (
        3,
        "http://h/alerts/?limit=2&offset=2",
        "http://h/alerts/?limit=2",
    )


# --- destroy and scoping ---------------------------------------------------------------------------


def test_destroy_cascades_to_events_and_destinations(store: AlertStore) -> None:
    alert = create(store)
    patch(store, alert, enabled=False)
    add_destination(store, alert, "slack")

    store.service.destroy(store.project_id, str(alert.id))

    with Session(store.engine) as session:
        for table in (AlertEventRow, AlertDestination, NotificationRule):
            query = sa.select(sa.func.count()).select_from(table).where(table.alert_id == alert.id)
            assert session.scalar(query) == 0
    with pytest.raises(NotFound):
        store.service.retrieve(store.project_id, str(alert.id))


@pytest.mark.parametrize(
    "action",
    [
        lambda s, i: s.retrieve(OTHER, i),
        lambda s, i: s.update(OTHER, i, {"name": "x"}, partial=True),
        lambda s, i: s.update(OTHER, i, {"filters": SERVICE}, partial=False),
        lambda s, i: s.destroy(OTHER, i),
        lambda s, i: s.reset(OTHER, i),
        lambda s, i: s.list_events(OTHER, i, url="http://h/"),
    ],
)
def test_another_projects_alert_is_not_found(store: AlertStore, action: Any) -> None:
    alert = create(store)
    store.force(alert.id, state="broken")
    service = ProjectSwap(store.service, store.other_project_id)

    with pytest.raises(NotFound) as raised:
        action(service, str(alert.id))

    assert raised.value.detail == "Not found."
    assert store.service.retrieve(store.project_id, str(alert.id)).state == "broken"
    assert store.service.list_alerts(store.other_project_id, url="http://h/").count == 0


@pytest.mark.parametrize("alert_id", ["not-a-uuid", str(uuid.uuid4())])
def test_unknown_ids_are_not_found(store: AlertStore, alert_id: str) -> None:
    with pytest.raises(NotFound):
        store.service.retrieve(store.project_id, alert_id)


OTHER = -1  # placeholder project id that ProjectSwap replaces with the store's other project


class ProjectSwap:
    """The service with ``OTHER`` replaced by a real project id, so the parametrized lambdas stay short."""

    def __init__(self, service: AlertService, project_id: int) -> None:
        self._service = service
        self._project_id = project_id

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._service, name)

        def call(project_id: int, *args: Any, **kwargs: Any) -> Any:
            return method(self._project_id if project_id == OTHER else project_id, *args, **kwargs)

        return call


def test_timestamps_are_aware_utc(store: AlertStore) -> None:
    alert = create(store, snooze_until="2025-03-10T15:00:00+02:00")

    assert alert.snooze_until == datetime.fromisoformat("2025-03-10T13:00:00+00:00")
    assert alert.created_at.utcoffset() == timedelta(0)


def test_migration_0003_creates_the_alert_tables_and_scan_indexes(store: AlertStore) -> None:
    inspector = sa.inspect(store.engine)

    assert {"alerts", "alert_events", "alert_destinations", "notification_rules", "integrations"} <= set(
        inspector.get_table_names()
    )
    indexes = {index["name"]: index["column_names"] for index in inspector.get_indexes("alerts")}
    assert indexes["ix_alerts_due"] == ["enabled", "next_check_at"]
    assert indexes["ix_alerts_project_created"] == ["project_id", "created_at"]
    event_indexes = {index["name"] for index in inspector.get_indexes("alert_events")}
    assert "ix_alert_events_alert_created" in event_indexes
    assert "bot_token" in {column["name"] for column in inspector.get_columns("integrations")}
