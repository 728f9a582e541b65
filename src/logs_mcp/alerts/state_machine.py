"""The pure alert state machine (alerts.md §2, generation [A]).

No I/O and no clock reads: every function takes ``now``. The alert service loads an alert, calls one of
these functions and persists the returned :class:`AlertStatus` together with the returned event row in one
transaction. The check loop and ``simulate`` (see :mod:`logs_mcp.alerts.replay`) share
:func:`evaluate_check`, so a replay behaves exactly like the live engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Any, Final, Literal

MAX_CONSECUTIVE_FAILURES: Final = 5
"""§2.9: the counted failure that brings the counter to this value breaks the alert."""

DEFAULT_CHECK_INTERVAL_MINUTES: Final = 5
INVALID_QUERY_MESSAGE_LIMIT: Final = 500


class AlertState(StrEnum):
    """§2.1 states."""

    NOT_FIRING = "not_firing"
    FIRING = "firing"
    PENDING_RESOLVE = "pending_resolve"  # never produced; read as FIRING (§2.1)
    ERRORED = "errored"  # generation [B] only; read as NOT_FIRING on the next success (§2.1)
    SNOOZED = "snoozed"
    BROKEN = "broken"


class ThresholdOperator(StrEnum):
    """§4.4: strict comparisons, equality never breaches."""

    ABOVE = "above"
    BELOW = "below"

    def breaches(self, count: int, threshold: int) -> bool:
        return count > threshold if self is ThresholdOperator.ABOVE else count < threshold


class Notification(StrEnum):
    """§2.2 notification actions of one check."""

    NONE = "none"
    FIRE = "fire"
    RESOLVE = "resolve"
    ERROR = "error"
    BROKEN = "broken"


class NotificationReason(StrEnum):
    """Why a check sent the notification it sent, or none (quoted by agents in explanations)."""

    CONDITION_MET = "condition_met"  # fire sent
    CONDITION_CLEARED = "condition_cleared"  # resolve sent
    COOLDOWN = "cooldown"  # fire/resolve suppressed, state still changed (§2.5)
    STILL_FIRING = "still_firing"  # no re-notification while firing (§2.3 rule 4)
    WAITING = "waiting"  # this check breached but fewer than N of the last M did
    OK = "ok"  # not firing and this check did not breach
    SNOOZED = "snoozed"  # not evaluated (§2.3 rule 2)
    BROKEN = "broken"  # not evaluated (§2.3 rule 1)
    TRANSIENT_ERROR = "transient_error"  # skipped, never counted (§2.9)
    FIRST_FAILURE = "first_failure"  # error sent: one per failure streak (§2.3 rule 3)
    REPEATED_FAILURE = "repeated_failure"  # streak already notified
    FAILURE_LIMIT = "failure_limit"  # broken sent (§2.9)


class EventKind(StrEnum):
    """§3.1 event kinds."""

    CHECK = "check"
    RESET = "reset"
    ENABLE = "enable"
    DISABLE = "disable"
    SNOOZE = "snooze"
    UNSNOOZE = "unsnooze"
    THRESHOLD_CHANGE = "threshold_change"
    BROKEN_CONFIG = "broken_config"


class FailureCode(StrEnum):
    """§2.9 error classification of a failed check query."""

    SERVER_BUSY = "server_busy"
    QUERY_PERFORMANCE = "query_performance"
    INVALID_QUERY = "invalid_query"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def transient(self) -> bool:
        """Transient failures never count toward broken, keep the state and notify nobody (§2.9 [A])."""
        return self in _TRANSIENT_CODES

    @property
    def user_message(self) -> str | None:
        """The fixed user-safe message; None for ``invalid_query``, which carries its sanitised error text."""
        return _USER_MESSAGES.get(self)


_TRANSIENT_CODES: Final = frozenset({FailureCode.SERVER_BUSY, FailureCode.CANCELLED, FailureCode.UNKNOWN})
_USER_MESSAGES: Final[dict[FailureCode, str]] = {
    FailureCode.SERVER_BUSY: "PostHog is temporarily busy. The alert check will retry automatically.",
    FailureCode.QUERY_PERFORMANCE: "Query is too expensive. Try narrower filters or a shorter window.",
    FailureCode.CANCELLED: "Alert check was cancelled. It will retry automatically.",
    FailureCode.UNKNOWN: "Alert check failed unexpectedly. PostHog has been notified.",
}


class InvalidTransition(ValueError):
    """A control-plane action that the current state does not allow; ``attr``/``detail`` feed the 400 body."""

    def __init__(self, attr: str, detail: str, message: str | None = None) -> None:
        super().__init__(message or detail)
        self.attr = attr
        self.detail = detail


def _require_aware(value: datetime | None, name: str) -> None:
    # Mixing naive and aware datetimes raises deep inside comparisons; fail early naming the field.
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (UTC)")


# --------------------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRule:
    """The evaluated configuration of an alert (§1.1); defaults are the spec's."""

    threshold_count: int = 100
    threshold_operator: ThresholdOperator = ThresholdOperator.ABOVE
    window_minutes: int = 5
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    cooldown_minutes: int = 0
    check_interval_minutes: int = DEFAULT_CHECK_INTERVAL_MINUTES
    # Compared only to detect a filter change (§2.8); excluded from the hash because dicts are unhashable.
    filters: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # Field-level limits (allowed windows, max M) are settings checked by the validation layer; these are
        # the invariants without which the machine itself is meaningless.
        if self.threshold_count < 0:
            raise ValueError("threshold_count must be >= 0")
        if self.window_minutes <= 0 or self.check_interval_minutes <= 0:
            raise ValueError("window_minutes and check_interval_minutes must be positive")
        if self.evaluation_periods < 1 or self.datapoints_to_alarm < 1:
            raise ValueError("evaluation_periods and datapoints_to_alarm must be >= 1")
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError(
                f"datapoints_to_alarm cannot exceed evaluation_periods "
                f"({self.datapoints_to_alarm} > {self.evaluation_periods})"
            )
        if self.cooldown_minutes < 0:
            raise ValueError("cooldown_minutes must be >= 0")

    @property
    def n_of_m(self) -> bool:
        """§5.4 "N-of-M mode": anything but N = M = 1."""
        return not (self.datapoints_to_alarm == 1 and self.evaluation_periods == 1)

    def breaches(self, count: int) -> bool:
        return self.threshold_operator.breaches(count, self.threshold_count)

    def evaluation_differs(self, other: AlertRule) -> bool:
        """§2.8 "threshold change": threshold, operator, filters, N or M differ (window does not count)."""
        return (
            self.threshold_count != other.threshold_count
            or self.threshold_operator != other.threshold_operator
            or dict(self.filters) != dict(other.filters)
            or self.datapoints_to_alarm != other.datapoints_to_alarm
            or self.evaluation_periods != other.evaluation_periods
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertStatus:
    """The state-relevant, server-managed fields of an alert (§1.1)."""

    state: AlertState = AlertState.NOT_FIRING
    enabled: bool = True
    consecutive_failures: int = 0
    snooze_until: datetime | None = None
    last_notified_at: datetime | None = None
    next_check_at: datetime | None = None
    last_checked_at: datetime | None = None
    first_enabled_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.consecutive_failures < 0:
            raise ValueError("consecutive_failures must be >= 0")
        for name in (
            "snooze_until",
            "last_notified_at",
            "next_check_at",
            "last_checked_at",
            "first_enabled_at",
        ):
            _require_aware(getattr(self, name), name)

    def is_snoozed(self, now: datetime) -> bool:
        """§2.3 rule 2: a future ``snooze_until`` counts only while the state is ``snoozed``."""
        return self.state is AlertState.SNOOZED and self.snooze_until is not None and self.snooze_until > now


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertEvent:
    """One event row to write (§3.2). ``explanation`` is ours: a quotable account of a check."""

    kind: EventKind
    created_at: datetime
    state_before: AlertState
    state_after: AlertState
    threshold_breached: bool = False
    result_count: int | None = None
    error_message: str | None = None
    query_duration_ms: int | None = None
    explanation: str | None = None

    @property
    def quiet(self) -> bool:
        """§3.6: a check row with no error and no state change (hidden by the events list, pruned)."""
        return (
            self.kind is EventKind.CHECK
            and self.error_message is None
            and self.state_before == self.state_after
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowCounts:
    """The M rolling windows of one check (§4.2 [A]), newest first.

    ``counts[k]`` is window k = ``[date_to − k·cadence − window, date_to − k·cadence)``; k = 0 is the current
    check. Fewer than M counts means missing history (the N-of-M window is simply shorter, §2.3 rule 4).
    """

    date_to: datetime
    window: timedelta
    cadence: timedelta
    counts: tuple[int, ...]
    query_duration_ms: int | None = None

    def __post_init__(self) -> None:
        _require_aware(self.date_to, "date_to")
        if not self.counts:
            raise ValueError("counts must hold at least the current window")
        if min(self.counts) < 0:
            raise ValueError("counts must be >= 0")

    def bounds(self, k: int) -> tuple[datetime, datetime]:
        end = self.date_to - k * self.cadence
        return end - self.window, end


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckFailure:
    """A failed check query, classified (§2.9).

    Fixed codes always use their user message; ``invalid_query`` keeps its sanitised text, cut to 500 chars.
    """

    code: FailureCode
    message: str = ""
    query_duration_ms: int | None = None

    def __post_init__(self) -> None:
        fixed = self.code.user_message
        if fixed is not None:
            # Raw errors are never shown (§2.9): fixed codes always carry their user-safe message.
            object.__setattr__(self, "message", fixed)
        elif not self.message:
            raise ValueError("invalid_query failures must carry their sanitised error text")
        else:
            object.__setattr__(self, "message", self.message[:INVALID_QUERY_MESSAGE_LIMIT])

    @property
    def transient(self) -> bool:
        return self.code.transient


CheckResult = WindowCounts | CheckFailure


@dataclass(frozen=True, slots=True, kw_only=True)
class BreachTally:
    """The N-of-M tally of one successful check (§2.4)."""

    current_count: int
    current_breached: bool
    breaches: int  # breached windows among the considered ones, the current included
    considered: int  # window length, ≤ M when history is missing
    needed: int  # N
    periods: int  # M

    @property
    def condition_met(self) -> bool:
        return self.breaches >= self.needed

    @classmethod
    def of(cls, counts: tuple[int, ...], rule: AlertRule) -> BreachTally:
        window = counts[: rule.evaluation_periods]
        threshold = rule.threshold_count
        # Inlined predicate: simulate runs this for every bucket of up to 30 days.
        if rule.threshold_operator is ThresholdOperator.ABOVE:
            flags = [count > threshold for count in window]
        else:
            flags = [count < threshold for count in window]
        return cls(
            current_count=window[0],
            current_breached=flags[0],
            breaches=sum(flags),
            considered=len(window),
            needed=rule.datapoints_to_alarm,
            periods=rule.evaluation_periods,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckDecision:
    """The outcome of one check (§2.3): the new status, the notification to send, and why."""

    rule: AlertRule
    now: datetime
    before: AlertStatus
    after: AlertStatus
    notification: Notification
    reason: NotificationReason
    tally: BreachTally | None = None
    observed: WindowCounts | None = None
    failure: CheckFailure | None = None

    @property
    def evaluated(self) -> bool:
        """False when the alert was not evaluated at all (broken, or snoozed): nothing is saved."""
        return self.reason not in (NotificationReason.BROKEN, NotificationReason.SNOOZED)

    def event(self, explanation: str | None = None) -> AlertEvent | None:
        """The ``check`` row to write (§3.3 and README: every evaluated check writes one), else None.

        Pass ``explain_check(decision)`` from :mod:`logs_mcp.alerts.explain` as ``explanation``.
        """
        if not self.evaluated:
            return None
        source = self.observed or self.failure
        return AlertEvent(
            kind=EventKind.CHECK,
            created_at=self.now,
            state_before=self.before.state,
            state_after=self.after.state,
            threshold_breached=self.tally.current_breached if self.tally else False,
            result_count=self.tally.current_count if self.tally else None,
            error_message=self.failure.message if self.failure else None,
            query_duration_ms=source.query_duration_ms if source else None,
            explanation=explanation,
        )


@dataclass(frozen=True, slots=True)
class Transition:
    """A control-plane transition: the new status and its single event row (§2.8, §3.3)."""

    status: AlertStatus
    event: AlertEvent


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""Marks ``AlertUpdate.snooze_until`` as absent; ``None`` there means "unsnooze" (§2.6)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertUpdate:
    """The keys present in a validated PATCH/PUT payload (§2.8).

    ``None`` means "key absent" for fields that cannot be null; ``snooze_until`` uses :data:`UNSET` for that
    because an explicit ``None`` unsnoozes. For PUT the caller fills omitted fields with their defaults.
    """

    enabled: bool | None = None
    snooze_until: datetime | Literal[_Unset.UNSET] | None = UNSET
    threshold_count: int | None = None
    threshold_operator: ThresholdOperator | None = None
    window_minutes: int | None = None
    evaluation_periods: int | None = None
    datapoints_to_alarm: int | None = None
    cooldown_minutes: int | None = None
    filters: Mapping[str, Any] | None = None

    def apply_to(self, rule: AlertRule) -> AlertRule:
        """The rule with this update's present keys applied (re-checks N ≤ M on the effective values)."""
        changes = {name: value for name in RULE_FIELDS if (value := getattr(self, name)) is not None}
        return dataclasses.replace(rule, **changes)


RULE_FIELDS: Final = (
    "threshold_count",
    "threshold_operator",
    "window_minutes",
    "evaluation_periods",
    "datapoints_to_alarm",
    "cooldown_minutes",
    "filters",
)
"""The rule fields an update may change (``check_interval_minutes`` is a setting, not the user's)."""


def rule_from(source: object, **overrides: Any) -> AlertRule:
    """The rule of anything carrying :class:`AlertRule`'s fields as attributes (a saved alert, its row, a
    simulate request), ``overrides`` taking the place of some."""
    names = (rule_field.name for rule_field in dataclasses.fields(AlertRule))
    values = {name: overrides[name] if name in overrides else getattr(source, name) for name in names}
    values["threshold_operator"] = ThresholdOperator(values["threshold_operator"])
    return AlertRule(**values)


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """§2.8: the new status and rule, and at most one event row."""

    status: AlertStatus
    rule: AlertRule
    event: AlertEvent | None


# --------------------------------------------------------------------------------------------------------
# Scheduling (§2.11)


def new_alert_status(*, enabled: bool, now: datetime, snooze_until: datetime | None = None) -> AlertStatus:
    """§1.1 create: ``not_firing``, due on the next tick, ``first_enabled_at`` = now when enabled.

    A ``snooze_until`` given at create is stored but, as in PostHog, creates no ``snoozed`` state (§2.6
    snoozes only through an update), so it is ignored by checks.
    """
    _require_aware(now, "now")
    return AlertStatus(enabled=enabled, snooze_until=snooze_until, first_enabled_at=now if enabled else None)


def is_due(status: AlertStatus, now: datetime) -> bool:
    """§2.11: enabled, slot reached (or none), not broken, not snoozed into the future."""
    _require_aware(now, "now")
    return (
        status.enabled
        and (status.next_check_at is None or status.next_check_at <= now)
        and status.state is not AlertState.BROKEN
        and not status.is_snoozed(now)
    )


def next_check_after(previous: datetime | None, now: datetime, interval_minutes: int) -> datetime:
    """§2.11 ``advance``: the next slot on the interval grid of the day, strictly after ``now``.

    A late check skips the missed slots instead of shifting the grid.
    """
    if interval_minutes <= 0:
        raise ValueError("interval_minutes must be positive")
    _require_aware(now, "now")
    step = timedelta(minutes=interval_minutes)
    if previous is None:
        candidate = now + step
    else:
        candidate = previous + step
        if candidate <= now:
            candidate += step * ((now - candidate) // step + 1)
    # Flooring the time since midnight to whole intervals also zeroes seconds and microseconds.
    slot = candidate - (candidate - candidate.replace(hour=0, minute=0, second=0, microsecond=0)) % step
    return slot + step if slot <= now else slot


# --------------------------------------------------------------------------------------------------------
# Check evaluation (§2.3 [A])


def evaluate_check(status: AlertStatus, rule: AlertRule, result: CheckResult, now: datetime) -> CheckDecision:
    """Decide one check (§2.3 [A] rules 1–5).

    ``result`` is the M window counts anchored on the scheduled slot (§4.2) or the classified failure.
    Broken and snoozed alerts are not evaluated and their status is returned untouched.
    """
    _require_aware(now, "now")
    if status.state is AlertState.BROKEN:
        return _not_evaluated(status, rule, now, NotificationReason.BROKEN)
    if status.is_snoozed(now):
        return _not_evaluated(status, rule, now, NotificationReason.SNOOZED)
    if isinstance(result, CheckFailure):
        return _decide_failure(status, rule, result, now)
    return _decide_counts(status, rule, result, now)


def _not_evaluated(
    status: AlertStatus, rule: AlertRule, now: datetime, reason: NotificationReason
) -> CheckDecision:
    return CheckDecision(
        rule=rule, now=now, before=status, after=status, notification=Notification.NONE, reason=reason
    )


def _checked(status: AlertStatus, rule: AlertRule, now: datetime, **changes: Any) -> AlertStatus:
    """Every saved check stamps ``last_checked_at`` and advances the slot on the grid (§2.11)."""
    fields: dict[str, Any] = {
        "state": status.state,
        "enabled": status.enabled,
        "consecutive_failures": status.consecutive_failures,
        "snooze_until": status.snooze_until,
        "last_notified_at": status.last_notified_at,
        "first_enabled_at": status.first_enabled_at,
        "last_checked_at": now,
        "next_check_at": next_check_after(status.next_check_at, now, rule.check_interval_minutes),
    }
    # Built directly rather than with dataclasses.replace, which dominates simulate's per-bucket cost.
    return AlertStatus(**(fields | changes))


def _decide_failure(
    status: AlertStatus, rule: AlertRule, failure: CheckFailure, now: datetime
) -> CheckDecision:
    """§2.3 rule 3 and §2.9: errors never change the firing state; only counted ones advance the streak."""
    notification = Notification.NONE
    if failure.transient:
        after = _checked(status, rule, now)
        reason = NotificationReason.TRANSIENT_ERROR
    else:
        failures = status.consecutive_failures + 1
        if failures >= MAX_CONSECUTIVE_FAILURES:
            after = _checked(status, rule, now, consecutive_failures=failures, state=AlertState.BROKEN)
            notification, reason = Notification.BROKEN, NotificationReason.FAILURE_LIMIT
        else:
            after = _checked(status, rule, now, consecutive_failures=failures)
            if status.consecutive_failures == 0:
                notification, reason = Notification.ERROR, NotificationReason.FIRST_FAILURE
            else:
                reason = NotificationReason.REPEATED_FAILURE
    return CheckDecision(
        rule=rule,
        now=now,
        before=status,
        after=after,
        notification=notification,
        reason=reason,
        failure=failure,
    )


def _effective_state(state: AlertState) -> AlertState:
    """§2.3 rule 4: expired snoozes and legacy errored/broken restart from not_firing; pending = firing."""
    if state in (AlertState.FIRING, AlertState.PENDING_RESOLVE):
        return AlertState.FIRING
    return AlertState.NOT_FIRING


def _decide_counts(
    status: AlertStatus, rule: AlertRule, observed: WindowCounts, now: datetime
) -> CheckDecision:
    tally = BreachTally.of(observed.counts, rule)
    if _effective_state(status.state) is AlertState.NOT_FIRING:
        if tally.condition_met:
            state, wanted, reason = AlertState.FIRING, Notification.FIRE, NotificationReason.CONDITION_MET
        else:
            state, wanted = AlertState.NOT_FIRING, Notification.NONE
            reason = NotificationReason.WAITING if tally.current_breached else NotificationReason.OK
    elif tally.condition_met:
        state, wanted, reason = AlertState.FIRING, Notification.NONE, NotificationReason.STILL_FIRING
    else:
        state, wanted, reason = (
            AlertState.NOT_FIRING,
            Notification.RESOLVE,
            NotificationReason.CONDITION_CLEARED,
        )
    last_notified_at = status.last_notified_at
    if wanted is not Notification.NONE:
        if in_cooldown(status.last_notified_at, rule.cooldown_minutes, now):
            wanted, reason = Notification.NONE, NotificationReason.COOLDOWN
        else:
            last_notified_at = now
    after = _checked(
        status, rule, now, state=state, consecutive_failures=0, last_notified_at=last_notified_at
    )
    return CheckDecision(
        rule=rule,
        now=now,
        before=status,
        after=after,
        notification=wanted,
        reason=reason,
        tally=tally,
        observed=observed,
    )


def in_cooldown(last_notified_at: datetime | None, cooldown_minutes: int, now: datetime) -> bool:
    """§2.5: suppress iff a cooldown is set and ``now < last_notified_at + cooldown`` (boundary allowed)."""
    return (
        cooldown_minutes > 0
        and last_notified_at is not None
        and now < last_notified_at + timedelta(minutes=cooldown_minutes)
    )


# --------------------------------------------------------------------------------------------------------
# Control plane (§2.6–§2.10): each user action is one transition and one event row.


def _transition(kind: EventKind, before: AlertStatus, now: datetime, **changes: Any) -> Transition:
    _require_aware(now, "now")
    after = dataclasses.replace(before, **changes)
    event = AlertEvent(kind=kind, created_at=now, state_before=before.state, state_after=after.state)
    return Transition(status=after, event=event)


def reset(status: AlertStatus, now: datetime) -> Transition:
    """§2.10: broken → not_firing, counter 0, recheck on the next tick; any other state is refused."""
    if status.state is not AlertState.BROKEN:
        raise InvalidTransition(
            "state",
            "Only broken alerts can be reset.",
            f"Only broken alerts can be reset. Current state is {status.state}.",
        )
    return _transition(
        EventKind.RESET, status, now, state=AlertState.NOT_FIRING, consecutive_failures=0, next_check_at=None
    )


def enable(status: AlertStatus, now: datetime) -> Transition:
    """§2.7 false→true: not_firing, counter 0, ``first_enabled_at`` set once; ``next_check_at`` kept."""
    return _transition(
        EventKind.ENABLE,
        status,
        now,
        enabled=True,
        state=AlertState.NOT_FIRING,
        consecutive_failures=0,
        first_enabled_at=status.first_enabled_at or now,
    )


def disable(status: AlertStatus, now: datetime) -> Transition:
    """§2.7 true→false from any state (parks a broken alert): not_firing, counter preserved."""
    return _transition(EventKind.DISABLE, status, now, enabled=False, state=AlertState.NOT_FIRING)


def snooze(status: AlertStatus, until: datetime, now: datetime) -> Transition:
    """§2.6: a future ``snooze_until`` → snoozed, counter preserved."""
    _require_aware(until, "snooze_until")
    if until <= now:
        raise InvalidTransition("snooze_until", "Must be a future datetime.")
    return _transition(EventKind.SNOOZE, status, now, state=AlertState.SNOOZED, snooze_until=until)


def unsnooze(status: AlertStatus, now: datetime) -> Transition:
    """§2.6: ``snooze_until: null`` from any state → not_firing, counter 0."""
    return _transition(
        EventKind.UNSNOOZE,
        status,
        now,
        state=AlertState.NOT_FIRING,
        consecutive_failures=0,
        snooze_until=None,
    )


def change_threshold(status: AlertStatus, now: datetime) -> Transition:
    """§2.8: threshold/filter/N/M edit → not_firing, counter 0, recheck now; a snoozed alert stays snoozed."""
    if status.state is AlertState.SNOOZED:
        return _transition(EventKind.THRESHOLD_CHANGE, status, now, next_check_at=None)
    return _transition(
        EventKind.THRESHOLD_CHANGE,
        status,
        now,
        state=AlertState.NOT_FIRING,
        consecutive_failures=0,
        next_check_at=None,
    )


def break_for_config(status: AlertStatus, error_message: str, now: datetime) -> Transition | None:
    """§2.9 broken config: straight to broken (counter kept, no notification); None if already broken."""
    if status.state is AlertState.BROKEN:
        return None
    transition = _transition(EventKind.BROKEN_CONFIG, status, now, state=AlertState.BROKEN)
    event = dataclasses.replace(transition.event, error_message=error_message)
    return Transition(status=transition.status, event=event)


def apply_update(status: AlertStatus, rule: AlertRule, update: AlertUpdate, now: datetime) -> UpdateResult:
    """§2.8: one PATCH/PUT = at most one transition and one event row.

    Priority: enable/disable > snooze/unsnooze (key present, even unchanged) > threshold change. Whatever
    wins, a present ``snooze_until`` is stored, and a threshold/filter/N/M or window change clears
    ``next_check_at``. Raises :class:`InvalidTransition` for a ``snooze_until`` not in the future and
    ``ValueError`` when the effective N exceeds M.
    """
    _require_aware(now, "now")
    if isinstance(update.snooze_until, datetime):
        _require_aware(update.snooze_until, "snooze_until")
        if update.snooze_until <= now:
            raise InvalidTransition("snooze_until", "Must be a future datetime.")
    new_rule = update.apply_to(rule)
    evaluation_changed = new_rule.evaluation_differs(rule)
    transition = _update_transition(status, update, evaluation_changed, now)
    new_status = transition.status if transition else status
    if update.snooze_until is not UNSET:
        new_status = dataclasses.replace(new_status, snooze_until=update.snooze_until)
    if evaluation_changed or new_rule.window_minutes != rule.window_minutes:
        new_status = dataclasses.replace(new_status, next_check_at=None)
    return UpdateResult(status=new_status, rule=new_rule, event=transition.event if transition else None)


def _update_transition(
    status: AlertStatus, update: AlertUpdate, evaluation_changed: bool, now: datetime
) -> Transition | None:
    if update.enabled is not None and update.enabled != status.enabled:
        return enable(status, now) if update.enabled else disable(status, now)
    if update.snooze_until is None:
        return unsnooze(status, now)
    if isinstance(update.snooze_until, datetime):
        return snooze(status, update.snooze_until, now)
    if evaluation_changed:
        return change_threshold(status, now)
    return None
