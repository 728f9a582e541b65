"""Destinations (alerts.md §6) on both state stores, SQLite and PostgreSQL: the service's transactions —
one group of four rules per create, all-or-nothing delete by row count, groups removed with their last
rule, the Slack integration lookup, and everything going with the alert on destroy. The faces' shapes and
messages are tested on the app in ``test_destinations.py``."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from logs_mcp.alerts.destination_models import NOT_THIS_ALERTS_MESSAGE
from logs_mcp.alerts.destinations import DestinationService
from logs_mcp.alerts.integrations import Integrations
from logs_mcp.errors import InvalidInput, NotFound
from logs_mcp.store.alert_tables import AlertDestination, NotificationRule

from .conftest import AlertStore

# Literal addresses: no DNS runs here, and public ones pass the private-network check without it.
WEBHOOK = {"type": "webhook", "webhook_url": "https://93.184.216.34/hook", "webhook_secret": "s3cret"}
TEAMS = {"type": "teams", "webhook_url": "https://52.96.0.1/webhookb2/abc"}


@pytest.fixture
def destinations(store: AlertStore) -> DestinationService:
    return DestinationService(store.engine, store.settings, clock=store.clock)


def _alert(store: AlertStore, project_id: int | None = None, name: str = "checkout errors") -> str:
    created = store.service.create(
        project_id or store.project_id,
        {"name": name, "filters": {"serviceNames": ["checkout"]}},
        created_by_key_id=None,
    )
    return str(created.id)


def _count(engine: Engine, table: type[AlertDestination] | type[NotificationRule], alert_id: str) -> int:
    with Session(engine) as session:
        query = sa.select(sa.func.count()).select_from(table).where(table.alert_id == uuid.UUID(alert_id))
        return int(session.execute(query).scalar_one())


def test_create_writes_one_group_of_four_rules_with_the_secret(
    store: AlertStore, destinations: DestinationService
) -> None:
    alert_id = _alert(store)

    ids = destinations.create(store.project_id, alert_id, WEBHOOK).hog_function_ids

    assert len(set(ids)) == 4
    assert (
        _count(store.engine, AlertDestination, alert_id),
        _count(store.engine, NotificationRule, alert_id),
    ) == (1, 4)
    with Session(store.engine) as session:
        rules = (
            session.execute(sa.select(NotificationRule).where(NotificationRule.id.in_(ids))).scalars().all()
        )
    assert {rule.webhook_secret for rule in rules} == {"s3cret"}
    [listed] = destinations.list(store.project_id, alert_id).results
    assert listed.hog_function_ids == ids and listed.signed


def test_a_partial_delete_keeps_the_group_and_the_last_rule_takes_it_away(
    store: AlertStore, destinations: DestinationService
) -> None:
    alert_id = _alert(store)
    webhook_ids = destinations.create(store.project_id, alert_id, WEBHOOK).hog_function_ids
    store.clock.advance(seconds=1)  # listed oldest first
    teams_ids = destinations.create(store.project_id, alert_id, TEAMS).hog_function_ids

    destinations.delete(store.project_id, alert_id, {"hog_function_ids": [str(webhook_ids[3])]})
    assert [group.hog_function_ids for group in destinations.list(store.project_id, alert_id).results] == [
        webhook_ids[:3],
        teams_ids,
    ]

    destinations.delete(store.project_id, alert_id, {"hog_function_ids": [str(i) for i in webhook_ids[:3]]})
    assert [group.type for group in destinations.list(store.project_id, alert_id).results] == ["teams"]
    assert _count(store.engine, AlertDestination, alert_id) == 1


@pytest.mark.parametrize("intruder", ["unknown", "repeated", "other alert"])
def test_a_delete_naming_any_id_not_of_this_alert_deletes_nothing(
    store: AlertStore, destinations: DestinationService, intruder: str
) -> None:
    alert_id = _alert(store)
    other_alert_id = _alert(store, name="other")
    ids = destinations.create(store.project_id, alert_id, WEBHOOK).hog_function_ids
    other_ids = destinations.create(store.project_id, other_alert_id, TEAMS).hog_function_ids
    extra = {"unknown": uuid.uuid4(), "repeated": ids[0], "other alert": other_ids[0]}[intruder]

    with pytest.raises(InvalidInput) as refused:
        destinations.delete(store.project_id, alert_id, {"hog_function_ids": [str(ids[0]), str(extra)]})

    assert (str(refused.value), refused.value.attr) == (NOT_THIS_ALERTS_MESSAGE, "hog_function_ids")
    assert _count(store.engine, NotificationRule, alert_id) == 4
    assert _count(store.engine, NotificationRule, other_alert_id) == 4


def test_slack_needs_an_integration_of_the_same_project(
    store: AlertStore, destinations: DestinationService
) -> None:
    alert_id = _alert(store)
    integrations = Integrations(store.engine)
    foreign = integrations.add_slack(store.other_project_id, "xoxb-1111-2222-Foreign", "Elsewhere")
    own = integrations.add_slack(store.project_id, "xoxb-3333-4444-Own", "Acme")
    slack = {"type": "slack", "slack_channel_id": "C0123ABC", "slack_channel_name": "alerts"}

    with pytest.raises(InvalidInput) as refused:
        destinations.create(store.project_id, alert_id, slack | {"slack_workspace_id": foreign.id})
    assert refused.value.attr == "slack_workspace_id"
    assert _count(store.engine, AlertDestination, alert_id) == 0

    destinations.create(store.project_id, alert_id, slack | {"slack_workspace_id": own.id})
    [listed] = destinations.list(store.project_id, alert_id).results
    assert (listed.type, listed.slack_workspace_id, listed.slack_channel_id) == ("slack", own.id, "C0123ABC")


def test_another_projects_alert_is_not_found(store: AlertStore, destinations: DestinationService) -> None:
    alert_id = _alert(store)
    ids = destinations.create(store.project_id, alert_id, WEBHOOK).hog_function_ids

    with pytest.raises(NotFound):
        destinations.list(store.other_project_id, alert_id)
    with pytest.raises(NotFound):
        destinations.create(store.other_project_id, alert_id, TEAMS)
    with pytest.raises(NotFound):
        destinations.delete(store.other_project_id, alert_id, {"hog_function_ids": [str(ids[0])]})
    assert _count(store.engine, NotificationRule, alert_id) == 4


def test_destroying_the_alert_removes_its_destinations(
    store: AlertStore, destinations: DestinationService
) -> None:
    alert_id = _alert(store)
    kept_alert_id = _alert(store, name="kept")
    destinations.create(store.project_id, alert_id, WEBHOOK)
    destinations.create(store.project_id, alert_id, TEAMS)
    destinations.create(store.project_id, kept_alert_id, TEAMS)

    store.service.destroy(store.project_id, alert_id)

    assert (
        _count(store.engine, AlertDestination, alert_id),
        _count(store.engine, NotificationRule, alert_id),
    ) == (0, 0)
    assert _count(store.engine, NotificationRule, kept_alert_id) == 4
