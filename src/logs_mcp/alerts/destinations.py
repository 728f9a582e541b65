"""Alert destinations (alerts.md §6): who hears about an alert's firing, resolved, broken and errored events.

A destination is stored as a group (:class:`AlertDestination`) of one :class:`NotificationRule` per kind;
the API's ``hog_function_ids`` are the rules' ids. Groups are created and deleted in one transaction each,
so a destination never exists with some of its kinds missing unless the user removed them on purpose.
Every method is scoped to one project: another project's alert is "Not found." as everywhere else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult, Engine
from sqlmodel import Session, col, select

from logs_mcp.alerts.destination_models import (
    NOT_THIS_ALERTS_MESSAGE,
    RULE_KINDS,
    Destination,
    DestinationCreated,
    DestinationDeleteRequest,
    DestinationList,
    DestinationRequest,
    ValidDestination,
    parse_request,
    rule_name,
    shown_url,
    validate_destination,
)
from logs_mcp.alerts.integrations import find_slack_integration
from logs_mcp.alerts.url_safety import UnsafeUrl, ensure_public_url
from logs_mcp.config import Settings
from logs_mcp.errors import InvalidInput, NotFound
from logs_mcp.store.alert_tables import AlertDestination, AlertRow, NotificationRule, get_alert
from logs_mcp.store.state import utcnow

_KIND_ORDER: dict[str, int] = {kind: position for position, kind in enumerate(RULE_KINDS)}


class DestinationService:
    def __init__(self, engine: Engine, settings: Settings, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock

    def create(self, project_id: int, alert_id: str, payload: Mapping[str, Any]) -> DestinationCreated:
        """§6.3: validate, then one rule per kind in one transaction; their ids in kind order."""
        with Session(self._engine) as session:
            alert = _owned_alert(session, project_id, alert_id)  # 404 before validation, as PostHog
            destination = validate_destination(parse_request(DestinationRequest, payload))
            self._check_reachable(session, project_id, destination)
            now = self._clock()
            group = AlertDestination(alert_id=alert.id, type=destination.type, created_at=now)
            rules = [
                NotificationRule(
                    destination_id=group.id,
                    alert_id=alert.id,
                    kind=kind,
                    type=destination.type,
                    config=destination.config,
                    webhook_secret=destination.secret,
                    created_at=now,
                )
                for kind in RULE_KINDS
            ]
            session.add(group)
            session.flush()  # the group row first: the rules reference it
            session.add_all(rules)
            session.commit()
            return DestinationCreated(hog_function_ids=[rule.id for rule in rules])

    def delete(self, project_id: int, alert_id: str, payload: Mapping[str, Any]) -> None:
        """§6.4: delete the listed rules of this alert, all or none. Foreign, unknown or repeated ids make
        the count differ, which rolls everything back; groups left without rules go with them."""
        with Session(self._engine) as session:
            alert = _owned_alert(session, project_id, alert_id)
            wanted = parse_request(DestinationDeleteRequest, payload).hog_function_ids
            listed = (col(NotificationRule.id).in_(wanted), col(NotificationRule.alert_id) == alert.id)
            touched = list(session.exec(select(NotificationRule.destination_id).where(*listed).distinct()))
            deleted = cast(CursorResult[Any], session.execute(sa.delete(NotificationRule).where(*listed)))
            if deleted.rowcount != len(wanted):
                session.rollback()
                raise InvalidInput(NOT_THIS_ALERTS_MESSAGE, attr="hog_function_ids")
            remaining = select(NotificationRule.id).where(
                col(NotificationRule.destination_id) == col(AlertDestination.id)
            )
            session.execute(
                sa.delete(AlertDestination).where(col(AlertDestination.id).in_(touched), ~remaining.exists())
            )
            session.commit()

    def list(self, project_id: int, alert_id: str) -> DestinationList:
        """The alert's destinations, oldest first, with their rules and safe configuration only."""
        with Session(self._engine) as session:
            alert = _owned_alert(session, project_id, alert_id)
            groups = session.exec(
                select(AlertDestination)
                .where(AlertDestination.alert_id == alert.id)
                .order_by(col(AlertDestination.created_at), col(AlertDestination.id))
            ).all()
            rules: defaultdict[UUID, list[NotificationRule]] = defaultdict(list)
            for rule in session.exec(select(NotificationRule).where(NotificationRule.alert_id == alert.id)):
                rules[rule.destination_id].append(rule)
            return DestinationList(results=[_destination(alert, group, rules[group.id]) for group in groups])

    def _check_reachable(self, session: Session, project_id: int, destination: ValidDestination) -> None:
        """The parts of §6.2 that look outside the request: the Slack integration is this project's, and
        the URL does not lead into a private network (checked again by the notifier at delivery)."""
        if destination.type == "slack":
            integration_id = destination.config["slack_workspace_id"]
            if find_slack_integration(session, project_id, integration_id) is None:
                raise InvalidInput(
                    f"Slack integration {integration_id} does not exist in this project. Register one with "
                    "`logs-mcp integrations add-slack`; `logs-mcp integrations list` shows their ids.",
                    attr="slack_workspace_id",
                )
        if destination.url is not None:
            try:
                ensure_public_url(destination.url, allow_private=self._settings.allow_private_webhooks)
            except UnsafeUrl as unsafe:
                raise InvalidInput(str(unsafe), attr="webhook_url") from None


def _owned_alert(session: Session, project_id: int, alert_id: str) -> AlertRow:
    try:
        alert = get_alert(session, project_id, UUID(str(alert_id)))
    except ValueError:
        alert = None
    if alert is None:
        raise NotFound("Not found.")
    return alert


def _destination(alert: AlertRow, group: AlertDestination, rules: list[NotificationRule]) -> Destination:
    rules = sorted(rules, key=lambda rule: _KIND_ORDER[rule.kind])
    config = rules[0].config if rules else {}
    url = config.get("webhook_url")
    return Destination.model_validate(
        {
            "id": group.id,
            "type": group.type,
            "hog_function_ids": [rule.id for rule in rules],
            "rules": [
                {
                    "id": rule.id,
                    "kind": rule.kind,
                    "name": rule_name(alert.name, rule.kind, rule.type, config),
                }
                for rule in rules
            ],
            "slack_workspace_id": config.get("slack_workspace_id"),
            "slack_channel_id": config.get("slack_channel_id"),
            "slack_channel_name": config.get("slack_channel_name"),
            "webhook_url": shown_url(group.type, url) if url else None,
            "signed": any(rule.webhook_secret for rule in rules),
            "created_at": group.created_at,
        }
    )
