"""The alert service: configuration and control plane of log alerts (alerts.md §1–§3, §7).

Every method is scoped to one project: another project's alert is "Not found." everywhere. Validation runs
in the spec's order and answers with its messages. Each user action loads the alert, asks the pure state
machine for the transition, and saves the alert and its event row in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence, Set
from datetime import datetime
from typing import Any, Final
from uuid import UUID, uuid4

from sqlalchemy.engine import Engine
from sqlmodel import Session

from logs_mcp.alerts import state_machine as machine
from logs_mcp.alerts.models import (
    DEFAULT_PAGE_SIZE,
    PUT_DEFAULTED_FIELDS,
    Alert,
    AlertCreator,
    AlertEventEntry,
    AlertEventPage,
    AlertPage,
    AlertPayload,
    StateInterval,
    has_filter,
)
from logs_mcp.alerts.state_machine import (
    RULE_FIELDS,
    UNSET,
    AlertRule,
    AlertState,
    AlertStatus,
    AlertUpdate,
    EventKind,
    InvalidTransition,
    ThresholdOperator,
    rule_from,
)
from logs_mcp.alerts.timeline import TIMELINE_SPAN, state_timeline
from logs_mcp.config import Settings
from logs_mcp.errors import InvalidInput, NotFound
from logs_mcp.store import alert_tables as tables
from logs_mcp.store.alert_tables import AlertEventRow, AlertRow
from logs_mcp.store.state import ApiKey, utcnow

LOCAL_CREATOR_LABEL: Final = "local user"
EVENT_KINDS: Final = sorted(kind.value for kind in EventKind)
_STATUS_FIELDS: Final = (
    "state",
    "enabled",
    "consecutive_failures",
    "snooze_until",
    "last_notified_at",
    "next_check_at",
    "last_checked_at",
    "first_enabled_at",
)


class AlertService:
    def __init__(self, engine: Engine, settings: Settings, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock

    # --- reads -------------------------------------------------------------------------------------

    def list_alerts(
        self, project_id: int, *, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, url: str
    ) -> AlertPage:
        """The project's alerts, newest first; ``url`` is where this list is served (for next/previous)."""
        with Session(self._engine) as session:
            count = tables.count_alerts(session, project_id)
            rows = tables.list_alerts(session, project_id, limit, offset)
            results = self._represent(session, rows)
        return AlertPage.of(results, count=count, limit=limit, offset=offset, url=url)

    def retrieve(self, project_id: int, alert_id: str) -> Alert:
        with Session(self._engine) as session:
            row = _found(tables.get_alert(session, project_id, _uuid(alert_id)))
            return self._represent(session, [row])[0]

    def list_events(
        self,
        project_id: int,
        alert_id: str,
        *,
        kind: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
        url: str,
    ) -> AlertEventPage:
        """§3.6: the alert's history without quiet check rows, newest first, optionally one ``kind``."""
        if kind is not None and kind not in EVENT_KINDS:
            raise InvalidInput(f"Must be one of {EVENT_KINDS}.", attr="kind", code="invalid")
        with Session(self._engine) as session:
            row = _found(tables.get_alert(session, project_id, _uuid(alert_id)))
            count, events = tables.list_visible_events(session, row.id, kind, limit, offset)
        results = [AlertEventEntry.model_validate(event, from_attributes=True) for event in events]
        return AlertEventPage.of(results, count=count, limit=limit, offset=offset, url=url)

    # --- writes ------------------------------------------------------------------------------------

    def create(self, project_id: int, payload: Mapping[str, Any], *, created_by_key_id: int | None) -> Alert:
        """§1.2 validation, then the per-project cap, then the insert (no event row, §7)."""
        data = self._parse(payload)
        now = self._clock()
        self._check_rules(
            enabled=data.enabled,
            filters=data.filters,
            window_minutes=data.window_minutes,
            evaluation_periods=data.evaluation_periods,
            datapoints_to_alarm=data.datapoints_to_alarm,
            snooze_until=data.snooze_until,
            now=now,
        )
        status = machine.new_alert_status(enabled=data.enabled, now=now, snooze_until=data.snooze_until)
        rule = AlertUpdate(**_rule_changes(data, data.model_fields_set)).apply_to(AlertRule())
        with Session(self._engine) as session:
            tables.lock_project_alerts(session, project_id)
            self._check_cap(session, project_id)
            row = AlertRow(
                project_id=project_id,
                name=data.name,
                created_at=now,
                created_by_key_id=created_by_key_id,
                created_by_label=_creator_label(session, created_by_key_id),
                **_rule_columns(rule),
                **status_columns(status),
            )
            session.add(row)
            session.commit()
            session.refresh(row)
            return self._represent(session, [row])[0]

    def update(self, project_id: int, alert_id: str, payload: Mapping[str, Any], *, partial: bool) -> Alert:
        """PUT (``partial=False``: omitted defaulted fields reset) or PATCH; at most one transition (§2.8)."""
        data = self._parse(payload)
        present = data.model_fields_set if partial else data.model_fields_set | PUT_DEFAULTED_FIELDS
        now = self._clock()
        with Session(self._engine) as session:
            tables.lock_project_alerts(session, project_id)
            row = _found(tables.get_alert(session, project_id, _uuid(alert_id), for_update=True))

            def effective(field: str) -> Any:
                return getattr(data, field) if field in present else getattr(row, field)

            self._check_rules(
                enabled=effective("enabled"),
                filters=effective("filters"),
                window_minutes=effective("window_minutes"),
                evaluation_periods=effective("evaluation_periods"),
                datapoints_to_alarm=effective("datapoints_to_alarm"),
                snooze_until=data.snooze_until if "snooze_until" in present else UNSET,
                now=now,
            )
            update = AlertUpdate(
                enabled=data.enabled if "enabled" in present else None,
                snooze_until=data.snooze_until if "snooze_until" in present else UNSET,
                **_rule_changes(data, present),
            )
            result = machine.apply_update(status_of(row), rule_of(row), update, now)
            if "name" in present:
                row.name = data.name
            for column, value in _rule_columns(result.rule).items():
                setattr(row, column, value)
            self._save(session, row, result.status, result.event, now)
            session.commit()
            session.refresh(row)
            return self._represent(session, [row])[0]

    def reset(self, project_id: int, alert_id: str) -> Alert:
        """§2.10: a broken alert back to not_firing and due now; any other state is a 400 on ``state``."""
        now = self._clock()
        with Session(self._engine) as session:
            tables.lock_project_alerts(session, project_id)
            row = _found(tables.get_alert(session, project_id, _uuid(alert_id), for_update=True))
            try:
                transition = machine.reset(status_of(row), now)
            except InvalidTransition as error:
                raise InvalidInput(error.detail, attr=error.attr, code="invalid") from None
            self._save(session, row, transition.status, transition.event, now)
            session.commit()
            session.refresh(row)
            return self._represent(session, [row])[0]

    def destroy(self, project_id: int, alert_id: str) -> None:
        """Hard delete; its events, destinations and notification rules go with it."""
        with Session(self._engine) as session:
            tables.lock_project_alerts(session, project_id)
            row = _found(tables.get_alert(session, project_id, _uuid(alert_id), for_update=True))
            tables.delete_alert(session, row)
            session.commit()

    # --- helpers -----------------------------------------------------------------------------------

    def _parse(self, payload: Mapping[str, Any]) -> AlertPayload:
        return AlertPayload.parse(payload, self._settings.alert_max_evaluation_periods)

    def _check_rules(
        self,
        *,
        enabled: bool,
        filters: Mapping[str, Any],
        window_minutes: int,
        evaluation_periods: int,
        datapoints_to_alarm: int,
        snooze_until: datetime | Any | None,
        now: datetime,
    ) -> None:
        """§1.2 cross-field checks in order, on the effective values; the first failure is reported."""
        if (enabled or filters) and not has_filter(filters):
            raise InvalidInput(
                "At least one filter is required (severityLevels, serviceNames, or filterGroup).",
                attr="filters",
                code="invalid",
            )
        allowed = sorted(self._settings.alert_window_minutes)
        if window_minutes not in allowed:
            raise InvalidInput(f"Must be one of {allowed}.", attr="window_minutes", code="invalid")
        if datapoints_to_alarm > evaluation_periods:
            raise InvalidInput(
                f"Cannot exceed evaluation_periods ({datapoints_to_alarm} > {evaluation_periods}).",
                attr="datapoints_to_alarm",
                code="invalid",
            )
        if isinstance(snooze_until, datetime) and snooze_until <= now:
            raise InvalidInput("Must be a future datetime.", attr="snooze_until", code="invalid")

    def _check_cap(self, session: Session, project_id: int) -> None:
        cap = self._settings.alerts_per_project_cap
        if project_id in self._settings.alerts_uncapped_project_ids:
            return
        if tables.count_alerts(session, project_id) >= cap:
            raise InvalidInput(f"Maximum number of alerts ({cap}) reached for this project.", code="invalid")

    @staticmethod
    def _save(
        session: Session, row: AlertRow, status: AlertStatus, event: machine.AlertEvent | None, now: datetime
    ) -> None:
        for column, value in status_columns(status).items():
            setattr(row, column, value)
        row.updated_at = now
        session.add(row)
        if event is not None:
            session.add(event_row(row.id, event))

    def _represent(self, session: Session, rows: Sequence[AlertRow]) -> list[Alert]:
        """The API representation; derived fields are read for all ``rows`` in a few batched queries."""
        now = self._clock()
        ids = [row.id for row in rows]
        window_start = now - TIMELINE_SPAN
        history: defaultdict[UUID, list[AlertEventRow]] = defaultdict(list)
        for event in tables.events_since(session, ids, window_start):
            history[event.alert_id].append(event)
        for event in tables.latest_toggles_before(session, ids, window_start):
            history[event.alert_id].append(event)
        errors = tables.latest_check_errors(session, ids)
        destination_types = tables.destination_types(session, ids)
        return [
            _alert(row, history[row.id], errors.get(row.id), destination_types.get(row.id, []), now)
            for row in rows
        ]


def _alert(
    row: AlertRow,
    history: list[AlertEventRow],
    last_error: str | None,
    destinations: list[str],
    now: datetime,
) -> Alert:
    timeline = state_timeline(
        history, current_state=AlertState(row.state), current_enabled=row.enabled, now=now
    )
    return Alert(
        **row.model_dump(exclude={"project_id", "created_by_key_id", "created_by_label"}),
        last_error_message=last_error,
        state_timeline=[
            StateInterval.model_validate(interval, from_attributes=True) for interval in timeline
        ],
        destination_types=destinations,
        created_by=AlertCreator(id=row.created_by_key_id, label=row.created_by_label),
    )


def _uuid(alert_id: str) -> UUID:
    try:
        return UUID(str(alert_id))
    except ValueError:
        raise NotFound("Not found.") from None


def _found(row: AlertRow | None) -> AlertRow:
    if row is None:
        raise NotFound("Not found.")
    return row


def _creator_label(session: Session, key_id: int | None) -> str:
    if key_id is None:
        return LOCAL_CREATOR_LABEL
    key = session.get(ApiKey, key_id)
    return (key.label or key.mask) if key is not None else ""


def status_of(row: AlertRow) -> AlertStatus:
    return AlertStatus(
        **{field: getattr(row, field) for field in _STATUS_FIELDS} | {"state": AlertState(row.state)}
    )


def status_columns(status: AlertStatus) -> dict[str, Any]:
    columns = {field: getattr(status, field) for field in _STATUS_FIELDS}
    columns["state"] = status.state.value
    return columns


def _rule_changes(data: AlertPayload, present: Set[str]) -> dict[str, Any]:
    """The rule fields of ``data`` that are present, typed as :class:`AlertUpdate` takes them."""
    changes = {field: getattr(data, field) for field in RULE_FIELDS if field in present}
    if "threshold_operator" in changes:
        changes["threshold_operator"] = ThresholdOperator(changes["threshold_operator"])
    return changes


def _rule_columns(rule: AlertRule) -> dict[str, Any]:
    columns = {field: getattr(rule, field) for field in RULE_FIELDS}
    columns["threshold_operator"] = rule.threshold_operator.value
    columns["filters"] = dict(rule.filters)
    columns["check_interval_minutes"] = rule.check_interval_minutes
    return columns


def rule_of(row: AlertRow) -> AlertRule:
    return rule_from(row)


def event_row(alert_id: UUID, event: machine.AlertEvent) -> AlertEventRow:
    return AlertEventRow(**event_columns(alert_id, event))


def event_columns(alert_id: UUID, event: machine.AlertEvent) -> dict[str, Any]:
    """An event row's columns, id included: what the check engine inserts without building the model."""
    return {
        "id": uuid4(),
        "alert_id": alert_id,
        "kind": event.kind.value,
        "created_at": event.created_at,
        "result_count": event.result_count,
        "threshold_breached": event.threshold_breached,
        "state_before": event.state_before.value,
        "state_after": event.state_after.value,
        "error_message": event.error_message,
        "query_duration_ms": event.query_duration_ms,
        "explanation": event.explanation,
    }
