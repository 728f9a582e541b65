"""Table tests for the pure state machine, row by row from alerts.md §2, plus hypothesis properties."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logs_mcp.alerts.explain import explain_check
from logs_mcp.alerts.state_machine import (
    MAX_CONSECUTIVE_FAILURES,
    UNSET,
    AlertEvent,
    AlertRule,
    AlertState,
    AlertStatus,
    AlertUpdate,
    CheckDecision,
    CheckFailure,
    CheckResult,
    EventKind,
    FailureCode,
    InvalidTransition,
    Notification,
    NotificationReason,
    ThresholdOperator,
    WindowCounts,
    apply_update,
    break_for_config,
    change_threshold,
    disable,
    enable,
    evaluate_check,
    is_due,
    new_alert_status,
    next_check_after,
    reset,
    snooze,
    unsnooze,
)

NOW = datetime(2025, 1, 1, 12, 30, tzinfo=UTC)
FIVE = timedelta(minutes=5)
S = AlertState
N = Notification
R = NotificationReason


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def counts(*values: int, date_to: datetime = NOW) -> WindowCounts:
    return WindowCounts(date_to=date_to, window=FIVE, cadence=FIVE, counts=values, query_duration_ms=7)


def failure(code: FailureCode = FailureCode.QUERY_PERFORMANCE) -> CheckFailure:
    return CheckFailure(code=code, query_duration_ms=9)


RULE = AlertRule(threshold_count=10)
N2_OF_M3 = AlertRule(threshold_count=10, evaluation_periods=3, datapoints_to_alarm=2)
BELOW = AlertRule(threshold_count=10, threshold_operator=ThresholdOperator.BELOW)


# --- §2.1 -------------------------------------------------------------------------------------------


def test_states_and_kinds_are_exactly_the_spec_values() -> None:
    assert [s.value for s in AlertState] == [
        "not_firing", "firing", "pending_resolve", "errored", "snoozed", "broken",
    ]  # fmt: skip
    assert [n.value for n in Notification] == ["none", "fire", "resolve", "error", "broken"]
    assert sorted(k.value for k in EventKind) == [
        "broken_config", "check", "disable", "enable", "reset", "snooze", "threshold_change", "unsnooze",
    ]  # fmt: skip


# --- §2.3 decision table -------------------------------------------------------------------------------

# (id, status, rule, result, expected state, notification, reason, counter after)
DecisionRow = tuple[
    str, AlertStatus, AlertRule, CheckResult, AlertState, Notification, NotificationReason, int
]
DECISIONS: list[DecisionRow] = [
    # rule 1: broken is never evaluated
    (
        "broken+breach",
        AlertStatus(state=S.BROKEN, consecutive_failures=5),
        RULE,
        counts(99),
        S.BROKEN,
        N.NONE,
        R.BROKEN,
        5,
    ),
    (
        "broken+error",
        AlertStatus(state=S.BROKEN, consecutive_failures=5),
        RULE,
        failure(),
        S.BROKEN,
        N.NONE,
        R.BROKEN,
        5,
    ),
    # rule 2: snoozed into the future is never evaluated
    (
        "snoozed",
        AlertStatus(state=S.SNOOZED, snooze_until=NOW + minutes(1), consecutive_failures=2),
        RULE,
        counts(99),
        S.SNOOZED,
        N.NONE,
        R.SNOOZED,
        2,
    ),
    (
        "snooze expired",
        AlertStatus(state=S.SNOOZED, snooze_until=NOW - minutes(1)),
        RULE,
        counts(99),
        S.FIRING,
        N.FIRE,
        R.CONDITION_MET,
        0,
    ),
    (
        "snooze at boundary",
        AlertStatus(state=S.SNOOZED, snooze_until=NOW),
        RULE,
        counts(99),
        S.FIRING,
        N.FIRE,
        R.CONDITION_MET,
        0,
    ),
    ("snoozed null until", AlertStatus(state=S.SNOOZED), RULE, counts(1), S.NOT_FIRING, N.NONE, R.OK, 0),
    (
        "future until ignored when not snoozed",
        AlertStatus(snooze_until=NOW + minutes(60)),
        RULE,
        counts(99),
        S.FIRING,
        N.FIRE,
        R.CONDITION_MET,
        0,
    ),
    # rule 3: errors
    (
        "transient server_busy",
        AlertStatus(state=S.FIRING, consecutive_failures=2),
        RULE,
        failure(FailureCode.SERVER_BUSY),
        S.FIRING,
        N.NONE,
        R.TRANSIENT_ERROR,
        2,
    ),
    (
        "transient cancelled",
        AlertStatus(consecutive_failures=4),
        RULE,
        failure(FailureCode.CANCELLED),
        S.NOT_FIRING,
        N.NONE,
        R.TRANSIENT_ERROR,
        4,
    ),
    (
        "transient unknown",
        AlertStatus(state=S.FIRING),
        RULE,
        failure(FailureCode.UNKNOWN),
        S.FIRING,
        N.NONE,
        R.TRANSIENT_ERROR,
        0,
    ),
    (
        "first counted failure",
        AlertStatus(state=S.FIRING),
        RULE,
        failure(),
        S.FIRING,
        N.ERROR,
        R.FIRST_FAILURE,
        1,
    ),
    (
        "second counted failure",
        AlertStatus(consecutive_failures=1),
        RULE,
        failure(),
        S.NOT_FIRING,
        N.NONE,
        R.REPEATED_FAILURE,
        2,
    ),
    (
        "fourth counted failure",
        AlertStatus(state=S.FIRING, consecutive_failures=3),
        RULE,
        failure(),
        S.FIRING,
        N.NONE,
        R.REPEATED_FAILURE,
        4,
    ),
    (
        "fifth counted failure breaks",
        AlertStatus(state=S.FIRING, consecutive_failures=4),
        RULE,
        failure(),
        S.BROKEN,
        N.BROKEN,
        R.FAILURE_LIMIT,
        5,
    ),
    (
        "invalid_query counts",
        AlertStatus(consecutive_failures=4),
        RULE,
        CheckFailure(code=FailureCode.INVALID_QUERY, message="bad regex"),
        S.BROKEN,
        N.BROKEN,
        R.FAILURE_LIMIT,
        5,
    ),
    (
        "error after snooze expiry keeps snoozed",
        AlertStatus(state=S.SNOOZED, snooze_until=NOW - minutes(1)),
        RULE,
        failure(),
        S.SNOOZED,
        N.ERROR,
        R.FIRST_FAILURE,
        1,
    ),
    (
        "error keeps pending_resolve",
        AlertStatus(state=S.PENDING_RESOLVE),
        RULE,
        failure(),
        S.PENDING_RESOLVE,
        N.ERROR,
        R.FIRST_FAILURE,
        1,
    ),
    # rule 4: successful checks, N = M = 1
    ("not_firing breach fires", AlertStatus(), RULE, counts(11), S.FIRING, N.FIRE, R.CONDITION_MET, 0),
    ("equality never breaches", AlertStatus(), RULE, counts(10), S.NOT_FIRING, N.NONE, R.OK, 0),
    ("not_firing calm", AlertStatus(consecutive_failures=3), RULE, counts(0), S.NOT_FIRING, N.NONE, R.OK, 0),
    (
        "firing breach stays",
        AlertStatus(state=S.FIRING),
        RULE,
        counts(50),
        S.FIRING,
        N.NONE,
        R.STILL_FIRING,
        0,
    ),
    (
        "firing calm resolves",
        AlertStatus(state=S.FIRING, consecutive_failures=2),
        RULE,
        counts(3),
        S.NOT_FIRING,
        N.RESOLVE,
        R.CONDITION_CLEARED,
        0,
    ),
    (
        "pending_resolve read as firing",
        AlertStatus(state=S.PENDING_RESOLVE),
        RULE,
        counts(50),
        S.FIRING,
        N.NONE,
        R.STILL_FIRING,
        0,
    ),
    (
        "pending_resolve resolves",
        AlertStatus(state=S.PENDING_RESOLVE),
        RULE,
        counts(0),
        S.NOT_FIRING,
        N.RESOLVE,
        R.CONDITION_CLEARED,
        0,
    ),
    (
        "legacy errored fires",
        AlertStatus(state=S.ERRORED, consecutive_failures=2),
        RULE,
        counts(50),
        S.FIRING,
        N.FIRE,
        R.CONDITION_MET,
        0,
    ),
    ("legacy errored calm", AlertStatus(state=S.ERRORED), RULE, counts(0), S.NOT_FIRING, N.NONE, R.OK, 0),
    ("below: silence breaches", AlertStatus(), BELOW, counts(0), S.FIRING, N.FIRE, R.CONDITION_MET, 0),
    ("below: equality calm", AlertStatus(), BELOW, counts(10), S.NOT_FIRING, N.NONE, R.OK, 0),
    ("only the first M counts", AlertStatus(), RULE, counts(0, 99, 99), S.NOT_FIRING, N.NONE, R.OK, 0),
    # §2.4 N-of-M (N=2, M=3), counts newest first
    ("1 of 3 waits", AlertStatus(), N2_OF_M3, counts(50, 0, 0), S.NOT_FIRING, N.NONE, R.WAITING, 0),
    ("2 of 3 fires", AlertStatus(), N2_OF_M3, counts(50, 0, 50), S.FIRING, N.FIRE, R.CONDITION_MET, 0),
    (
        "2 of 3 fires without current breach",
        AlertStatus(),
        N2_OF_M3,
        counts(0, 50, 50),
        S.FIRING,
        N.FIRE,
        R.CONDITION_MET,
        0,
    ),
    (
        "missing history shortens window",
        AlertStatus(),
        N2_OF_M3,
        counts(50),
        S.NOT_FIRING,
        N.NONE,
        R.WAITING,
        0,
    ),
    (
        "firing kept by N-of-M",
        AlertStatus(state=S.FIRING),
        N2_OF_M3,
        counts(0, 50, 50),
        S.FIRING,
        N.NONE,
        R.STILL_FIRING,
        0,
    ),
    (
        "firing resolves below N",
        AlertStatus(state=S.FIRING),
        N2_OF_M3,
        counts(50, 0, 0),
        S.NOT_FIRING,
        N.RESOLVE,
        R.CONDITION_CLEARED,
        0,
    ),
]


@pytest.mark.parametrize(
    ("status", "rule", "result", "state", "notification", "reason", "failures"),
    [row[1:] for row in DECISIONS],
    ids=[row[0] for row in DECISIONS],
)
def test_check_decision_table(
    status: AlertStatus,
    rule: AlertRule,
    result: CheckResult,
    state: AlertState,
    notification: Notification,
    reason: NotificationReason,
    failures: int,
) -> None:
    decision = evaluate_check(status, rule, result, NOW)
    assert (decision.after.state, decision.notification, decision.reason) == (state, notification, reason)
    assert decision.after.consecutive_failures == failures
    assert decision.before == status
    delivered = notification in (N.FIRE, N.RESOLVE)
    assert decision.after.last_notified_at == (NOW if delivered else status.last_notified_at)
    assert explain_check(decision)  # every outcome can be explained


@pytest.mark.parametrize("reason", [R.BROKEN, R.SNOOZED])
def test_not_evaluated_checks_save_nothing(reason: NotificationReason) -> None:
    state = S.BROKEN if reason is R.BROKEN else S.SNOOZED
    status = AlertStatus(state=state, snooze_until=NOW + minutes(5), next_check_at=NOW)
    decision = evaluate_check(status, RULE, counts(99), NOW)
    assert decision.after is status
    assert not decision.evaluated
    assert decision.event() is None


def test_counted_failures_break_on_the_fifth_in_a_row_with_one_error_notification() -> None:
    status = AlertStatus(state=S.FIRING)
    notifications = []
    for _ in range(MAX_CONSECUTIVE_FAILURES):
        decision = evaluate_check(status, RULE, failure(), NOW)
        notifications.append(decision.notification)
        status = decision.after
    assert notifications == [N.ERROR, N.NONE, N.NONE, N.NONE, N.BROKEN]
    assert status.state is S.BROKEN


def test_success_resets_the_failure_streak_so_the_next_error_notifies_again() -> None:
    status = evaluate_check(AlertStatus(consecutive_failures=3), RULE, counts(0), NOW).after
    assert evaluate_check(status, RULE, failure(), NOW).notification is N.ERROR


# --- §2.5 cooldown ------------------------------------------------------------------------------------

COOLDOWN = AlertRule(threshold_count=10, cooldown_minutes=30)


@pytest.mark.parametrize(
    ("state", "count", "since", "rule", "expected_state", "notification", "reason"),
    [
        (S.NOT_FIRING, 50, 10, COOLDOWN, S.FIRING, N.NONE, R.COOLDOWN),
        (S.FIRING, 0, 10, COOLDOWN, S.NOT_FIRING, N.NONE, R.COOLDOWN),
        (S.NOT_FIRING, 50, 30, COOLDOWN, S.FIRING, N.FIRE, R.CONDITION_MET),  # boundary allowed
        (S.FIRING, 0, 31, COOLDOWN, S.NOT_FIRING, N.RESOLVE, R.CONDITION_CLEARED),
        (S.NOT_FIRING, 50, 0, RULE, S.FIRING, N.FIRE, R.CONDITION_MET),  # cooldown 0
        (S.SNOOZED, 50, 10, COOLDOWN, S.FIRING, N.NONE, R.COOLDOWN),  # fire after snooze expiry
    ],
)
def test_cooldown_suppresses_notifications_never_state(
    state: AlertState,
    count: int,
    since: int,
    rule: AlertRule,
    expected_state: AlertState,
    notification: Notification,
    reason: NotificationReason,
) -> None:
    last = NOW - minutes(since)
    decision = evaluate_check(AlertStatus(state=state, last_notified_at=last), rule, counts(count), NOW)
    assert (decision.after.state, decision.notification, decision.reason) == (
        expected_state,
        notification,
        reason,
    )
    assert decision.after.last_notified_at == (NOW if notification is not N.NONE else last)


def test_error_and_broken_notifications_ignore_cooldown_and_never_touch_last_notified_at() -> None:
    last = NOW - minutes(1)
    first = evaluate_check(AlertStatus(last_notified_at=last), COOLDOWN, failure(), NOW)
    broken = evaluate_check(
        AlertStatus(last_notified_at=last, consecutive_failures=4), COOLDOWN, failure(), NOW
    )
    assert (first.notification, broken.notification) == (N.ERROR, N.BROKEN)
    assert first.after.last_notified_at == broken.after.last_notified_at == last


# --- §3.3 check rows ----------------------------------------------------------------------------------


def test_check_row_of_a_successful_check() -> None:
    decision = evaluate_check(AlertStatus(), RULE, counts(42, 0), NOW)
    event = decision.event(explanation="why")
    assert event == AlertEvent(
        kind=EventKind.CHECK,
        created_at=NOW,
        state_before=S.NOT_FIRING,
        state_after=S.FIRING,
        threshold_breached=True,
        result_count=42,
        error_message=None,
        query_duration_ms=7,
        explanation="why",
    )
    assert not event.quiet


def test_check_row_of_a_failed_check_carries_the_message_even_when_transient() -> None:
    decision = evaluate_check(AlertStatus(state=S.FIRING), RULE, failure(FailureCode.SERVER_BUSY), NOW)
    event = decision.event()
    assert event is not None
    assert (event.result_count, event.threshold_breached, event.query_duration_ms) == (None, False, 9)
    assert event.error_message == "PostHog is temporarily busy. The alert check will retry automatically."
    assert (event.state_before, event.state_after) == (S.FIRING, S.FIRING)
    assert not event.quiet


def test_steady_check_row_is_quiet() -> None:
    event = evaluate_check(AlertStatus(), RULE, counts(0), NOW).event()
    assert event is not None and event.quiet


def test_failure_messages_are_user_safe() -> None:
    assert CheckFailure(code=FailureCode.UNKNOWN, message="raw stack").message == (
        "Alert check failed unexpectedly. PostHog has been notified."
    )
    assert CheckFailure(code=FailureCode.INVALID_QUERY, message="x" * 600).message == "x" * 500
    with pytest.raises(ValueError, match="sanitised"):
        CheckFailure(code=FailureCode.INVALID_QUERY)
    assert {c for c in FailureCode if c.transient} == {
        FailureCode.SERVER_BUSY, FailureCode.CANCELLED, FailureCode.UNKNOWN,
    }  # fmt: skip


# --- §2.11 scheduling ---------------------------------------------------------------------------------


def at(hour: int, minute: int, second: int = 0, day: int = 1) -> datetime:
    return datetime(2025, 1, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("previous", "now", "expected"),
    [
        (None, at(12, 3, 17), at(12, 5)),
        (None, at(12, 0), at(12, 5)),
        (at(12, 5), at(12, 5, 30), at(12, 10)),
        (at(12, 5), at(12, 10), at(12, 15)),  # candidate == now is skipped
        (at(12, 5), at(12, 17, 2), at(12, 20)),  # late check keeps the grid
        (at(12, 7, 30), at(12, 8), at(12, 10)),  # off-grid slot snaps back onto it
        (at(23, 55), at(23, 55, 10), at(0, 0, day=2)),
    ],
)
def test_next_check_after_lands_on_the_grid(
    previous: datetime | None, now: datetime, expected: datetime
) -> None:
    assert next_check_after(previous, now, 5) == expected


def test_next_check_after_rejects_non_positive_intervals() -> None:
    with pytest.raises(ValueError, match="positive"):
        next_check_after(None, NOW, 0)


def test_every_saved_check_advances_the_slot_and_stamps_last_checked_at() -> None:
    status = AlertStatus(next_check_at=at(12, 30))
    for result in (counts(0), failure(), failure(FailureCode.SERVER_BUSY)):
        after = evaluate_check(status, RULE, result, at(12, 30, 20)).after
        assert (after.next_check_at, after.last_checked_at) == (at(12, 35), at(12, 30, 20))


@pytest.mark.parametrize(
    ("status", "due"),
    [
        (AlertStatus(), True),
        (AlertStatus(enabled=False), False),
        (AlertStatus(next_check_at=NOW), True),
        (AlertStatus(next_check_at=NOW + minutes(1)), False),
        (AlertStatus(state=S.BROKEN), False),
        (AlertStatus(state=S.SNOOZED, snooze_until=NOW + minutes(1)), False),
        (AlertStatus(state=S.SNOOZED, snooze_until=NOW - minutes(1)), True),
        (AlertStatus(snooze_until=NOW + minutes(1)), True),
        (AlertStatus(state=S.FIRING, next_check_at=NOW - minutes(9)), True),
    ],
)
def test_is_due(status: AlertStatus, due: bool) -> None:
    assert is_due(status, NOW) is due


def test_new_alert_status() -> None:
    assert new_alert_status(enabled=True, now=NOW) == AlertStatus(first_enabled_at=NOW)
    assert new_alert_status(enabled=False, now=NOW) == AlertStatus(enabled=False)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        evaluate_check(AlertStatus(), RULE, counts(0), datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="snooze_until"):
        AlertStatus(snooze_until=datetime(2025, 1, 1))


# --- §2.6, §2.7, §2.9, §2.10 control plane -------------------------------------------------------------

BUSY = AlertStatus(
    state=S.FIRING, consecutive_failures=3, next_check_at=NOW + minutes(5), last_notified_at=NOW
)


def assert_row(event: AlertEvent, kind: EventKind, before: AlertState, after: AlertState) -> None:
    assert event == AlertEvent(kind=kind, created_at=NOW, state_before=before, state_after=after)


def test_reset_only_from_broken() -> None:
    broken = replace(BUSY, state=S.BROKEN, consecutive_failures=5)
    transition = reset(broken, NOW)
    assert transition.status == replace(
        broken, state=S.NOT_FIRING, consecutive_failures=0, next_check_at=None
    )
    assert_row(transition.event, EventKind.RESET, S.BROKEN, S.NOT_FIRING)


@pytest.mark.parametrize("state", [s for s in AlertState if s is not S.BROKEN])
def test_reset_refuses_every_other_state(state: AlertState) -> None:
    with pytest.raises(InvalidTransition) as error:
        reset(replace(BUSY, state=state), NOW)
    assert (error.value.attr, error.value.detail) == ("state", "Only broken alerts can be reset.")
    assert str(error.value) == f"Only broken alerts can be reset. Current state is {state.value}."


def test_enable_resets_state_and_counter_and_sets_first_enabled_at_once() -> None:
    parked = AlertStatus(enabled=False, consecutive_failures=2, next_check_at=NOW - minutes(60))
    transition = enable(parked, NOW)
    assert transition.status == replace(parked, enabled=True, consecutive_failures=0, first_enabled_at=NOW)
    assert_row(transition.event, EventKind.ENABLE, S.NOT_FIRING, S.NOT_FIRING)
    earlier = NOW - timedelta(days=3)
    assert enable(replace(parked, first_enabled_at=earlier), NOW).status.first_enabled_at == earlier


@pytest.mark.parametrize("state", list(AlertState))
def test_disable_from_any_state_keeps_the_counter(state: AlertState) -> None:
    transition = disable(replace(BUSY, state=state), NOW)
    assert transition.status == replace(BUSY, state=S.NOT_FIRING, enabled=False)
    assert_row(transition.event, EventKind.DISABLE, state, S.NOT_FIRING)


def test_snooze_keeps_the_counter_and_requires_a_future_time() -> None:
    until = NOW + minutes(60)
    transition = snooze(BUSY, until, NOW)
    assert transition.status == replace(BUSY, state=S.SNOOZED, snooze_until=until)
    assert_row(transition.event, EventKind.SNOOZE, S.FIRING, S.SNOOZED)
    for past in (NOW, NOW - minutes(1)):
        with pytest.raises(InvalidTransition) as error:
            snooze(BUSY, past, NOW)
        assert (error.value.attr, error.value.detail) == ("snooze_until", "Must be a future datetime.")


@pytest.mark.parametrize("state", list(AlertState))
def test_unsnooze_from_any_state(state: AlertState) -> None:
    status = replace(BUSY, state=state, snooze_until=NOW + minutes(9))
    transition = unsnooze(status, NOW)
    assert transition.status == replace(status, state=S.NOT_FIRING, consecutive_failures=0, snooze_until=None)
    assert_row(transition.event, EventKind.UNSNOOZE, state, S.NOT_FIRING)


def test_threshold_change_restarts_the_alert_but_a_snoozed_one_stays_snoozed() -> None:
    transition = change_threshold(BUSY, NOW)
    assert transition.status == replace(BUSY, state=S.NOT_FIRING, consecutive_failures=0, next_check_at=None)
    assert_row(transition.event, EventKind.THRESHOLD_CHANGE, S.FIRING, S.NOT_FIRING)
    snoozed = replace(BUSY, state=S.SNOOZED, snooze_until=NOW + minutes(9))
    kept = change_threshold(snoozed, NOW)
    assert kept.status == replace(snoozed, next_check_at=None)
    assert_row(kept.event, EventKind.THRESHOLD_CHANGE, S.SNOOZED, S.SNOOZED)


def test_broken_config_breaks_without_notification_and_leaves_broken_alone() -> None:
    transition = break_for_config(BUSY, "filters must be a JSON object, got list", NOW)
    assert transition is not None
    assert transition.status == replace(BUSY, state=S.BROKEN)
    assert transition.event.kind is EventKind.BROKEN_CONFIG
    assert transition.event.error_message == "filters must be a JSON object, got list"
    assert break_for_config(replace(BUSY, state=S.BROKEN), "again", NOW) is None


# --- §2.8 update priority ------------------------------------------------------------------------------

FUTURE = NOW + minutes(60)
STORED_RULE = AlertRule(threshold_count=10, filters={"serviceNames": ["api"]})
STORED = replace(BUSY, snooze_until=None)

# (id, stored status, update, event kind or None, state, counter, snooze_until, slot cleared)
UpdateRow = tuple[str, AlertStatus, AlertUpdate, EventKind | None, AlertState, int, datetime | None, bool]
UPDATES: list[UpdateRow] = [
    (
        "enable beats snooze and threshold",
        replace(STORED, enabled=False, state=S.NOT_FIRING),
        AlertUpdate(enabled=True, snooze_until=FUTURE, threshold_count=5),
        EventKind.ENABLE,
        S.NOT_FIRING,
        0,
        FUTURE,
        True,
    ),
    (
        "disable beats unsnooze",
        STORED,
        AlertUpdate(enabled=False, snooze_until=None),
        EventKind.DISABLE,
        S.NOT_FIRING,
        3,
        None,
        False,
    ),
    (
        "same enabled is no change",
        STORED,
        AlertUpdate(enabled=True, threshold_count=5),
        EventKind.THRESHOLD_CHANGE,
        S.NOT_FIRING,
        0,
        None,
        True,
    ),
    (
        "snooze beats threshold",
        STORED,
        AlertUpdate(snooze_until=FUTURE, threshold_count=5),
        EventKind.SNOOZE,
        S.SNOOZED,
        3,
        FUTURE,
        True,
    ),
    (
        "unchanged snooze key still snoozes",
        replace(STORED, state=S.SNOOZED, snooze_until=FUTURE),
        AlertUpdate(snooze_until=FUTURE),
        EventKind.SNOOZE,
        S.SNOOZED,
        3,
        FUTURE,
        False,
    ),
    (
        "null snooze unsnoozes anything",
        STORED,
        AlertUpdate(snooze_until=None),
        EventKind.UNSNOOZE,
        S.NOT_FIRING,
        0,
        None,
        False,
    ),
    (
        "threshold count",
        STORED,
        AlertUpdate(threshold_count=11),
        EventKind.THRESHOLD_CHANGE,
        S.NOT_FIRING,
        0,
        None,
        True,
    ),
    (
        "operator",
        STORED,
        AlertUpdate(threshold_operator=ThresholdOperator.BELOW),
        EventKind.THRESHOLD_CHANGE,
        S.NOT_FIRING,
        0,
        None,
        True,
    ),
    (
        "filters",
        STORED,
        AlertUpdate(filters={"serviceNames": ["web"]}),
        EventKind.THRESHOLD_CHANGE,
        S.NOT_FIRING,
        0,
        None,
        True,
    ),
    ("M", STORED, AlertUpdate(evaluation_periods=3), EventKind.THRESHOLD_CHANGE, S.NOT_FIRING, 0, None, True),
    (
        "N and M",
        STORED,
        AlertUpdate(evaluation_periods=3, datapoints_to_alarm=2),
        EventKind.THRESHOLD_CHANGE,
        S.NOT_FIRING,
        0,
        None,
        True,
    ),
    (
        "snoozed stays snoozed on threshold",
        replace(STORED, state=S.SNOOZED, snooze_until=FUTURE),
        AlertUpdate(threshold_count=11),
        EventKind.THRESHOLD_CHANGE,
        S.SNOOZED,
        3,
        FUTURE,
        True,
    ),
    (
        "same values are no change",
        STORED,
        AlertUpdate(threshold_count=10, filters={"serviceNames": ["api"]}),
        None,
        S.FIRING,
        3,
        None,
        False,
    ),
    (
        "window only: no event, slot cleared",
        STORED,
        AlertUpdate(window_minutes=15),
        None,
        S.FIRING,
        3,
        None,
        True,
    ),
    ("cooldown only: nothing", STORED, AlertUpdate(cooldown_minutes=30), None, S.FIRING, 3, None, False),
    ("empty update", STORED, AlertUpdate(), None, S.FIRING, 3, None, False),
]


@pytest.mark.parametrize(
    ("status", "update", "kind", "state", "failures", "snooze_until", "slot_cleared"),
    [row[1:] for row in UPDATES],
    ids=[row[0] for row in UPDATES],
)
def test_update_priority_table(
    status: AlertStatus,
    update: AlertUpdate,
    kind: EventKind | None,
    state: AlertState,
    failures: int,
    snooze_until: datetime | None,
    slot_cleared: bool,
) -> None:
    result = apply_update(status, STORED_RULE, update, NOW)
    assert (result.event.kind if result.event else None) == kind
    assert (result.status.state, result.status.consecutive_failures) == (state, failures)
    assert result.status.snooze_until == snooze_until
    assert result.status.next_check_at == (None if slot_cleared else status.next_check_at)
    if result.event:
        assert (result.event.state_before, result.event.state_after) == (status.state, state)


def test_update_returns_the_new_rule() -> None:
    result = apply_update(STORED, STORED_RULE, AlertUpdate(cooldown_minutes=30, window_minutes=15), NOW)
    assert result.rule == replace(STORED_RULE, cooldown_minutes=30, window_minutes=15)


def test_update_rejects_a_past_snooze_even_when_enable_wins() -> None:
    disabled = replace(STORED, enabled=False)
    with pytest.raises(InvalidTransition) as error:
        apply_update(disabled, STORED_RULE, AlertUpdate(enabled=True, snooze_until=NOW), NOW)
    assert error.value.attr == "snooze_until"


def test_update_rejects_n_above_effective_m() -> None:
    with pytest.raises(ValueError, match=r"\(2 > 1\)"):
        apply_update(STORED, STORED_RULE, AlertUpdate(datapoints_to_alarm=2), NOW)


def test_unset_snooze_is_not_a_snooze_key() -> None:
    assert AlertUpdate().snooze_until is UNSET


# --- hypothesis properties -----------------------------------------------------------------------------

rules = st.builds(
    lambda m, n_share, threshold, below, cooldown: AlertRule(
        evaluation_periods=m,
        datapoints_to_alarm=max(1, round(m * n_share)),
        threshold_count=threshold,
        threshold_operator=ThresholdOperator.BELOW if below else ThresholdOperator.ABOVE,
        cooldown_minutes=cooldown,
    ),
    st.integers(1, 10),
    st.floats(0, 1),
    st.integers(0, 20),
    st.booleans(),
    st.sampled_from([0, 0, 5, 10, 30]),
)
check_results = st.one_of(
    st.integers(0, 40).map(lambda c: ("count", c)),
    st.sampled_from(list(FailureCode)).map(lambda code: ("error", code)),
)


def run(
    rule: AlertRule, steps: list[tuple[str, object]], status: AlertStatus | None = None
) -> Iterator[tuple[CheckDecision, list[int]]]:
    """Drive the machine with the live engine's inputs: M windows per check, newest first."""
    status = status or AlertStatus()
    history: list[int] = []
    now = NOW
    for kind, value in steps:
        now += FIVE
        if kind == "count":
            assert isinstance(value, int)
            history = [value, *history][: rule.evaluation_periods]
            result: CheckResult = WindowCounts(date_to=now, window=FIVE, cadence=FIVE, counts=tuple(history))
        else:
            assert isinstance(value, FailureCode)
            result = CheckFailure(code=value, message="boom")
        decision = evaluate_check(status, rule, result, now)
        yield decision, history
        status = decision.after


@given(rules, st.lists(check_results, max_size=60))
def test_n_of_m_never_fires_with_fewer_than_n_breaches_in_the_last_m(
    rule: AlertRule, steps: list[tuple[str, object]]
) -> None:
    for decision, history in run(rule, steps):
        if decision.notification is N.FIRE or decision.reason is R.STILL_FIRING:
            assert sum(rule.breaches(count) for count in history) >= rule.datapoints_to_alarm


@given(rules, st.lists(check_results, max_size=60))
def test_cooldown_spaces_fire_and_resolve_notifications(
    rule: AlertRule, steps: list[tuple[str, object]]
) -> None:
    sent = [d.now for d, _ in run(rule, steps) if d.notification in (N.FIRE, N.RESOLVE)]
    assert all(b - a >= minutes(rule.cooldown_minutes) for a, b in pairwise(sent))


@given(rules, st.lists(check_results, max_size=60))
def test_errors_never_change_the_firing_state_except_into_broken(
    rule: AlertRule, steps: list[tuple[str, object]]
) -> None:
    for decision, _ in run(rule, steps):
        if decision.failure is not None and decision.after.state is not S.BROKEN:
            assert decision.after.state is decision.before.state
        if decision.failure is not None and decision.failure.transient:
            assert decision.after.consecutive_failures == decision.before.consecutive_failures


user_actions = st.sampled_from(["reset", "disable", "snooze", "unsnooze", "threshold"])


@given(rules, st.lists(check_results, max_size=30), user_actions)
def test_broken_is_absorbing_until_a_user_action(
    rule: AlertRule, steps: list[tuple[str, object]], action: str
) -> None:
    broken = AlertStatus(state=S.BROKEN, consecutive_failures=5)
    last = broken
    for decision, _ in run(rule, steps, broken):
        assert (decision.after, decision.notification) == (broken, N.NONE)
        last = decision.after
    actions = {
        "reset": lambda s: reset(s, NOW),
        "disable": lambda s: disable(s, NOW),
        "snooze": lambda s: snooze(s, FUTURE, NOW),
        "unsnooze": lambda s: unsnooze(s, NOW),
        "threshold": lambda s: change_threshold(s, NOW),
    }
    assert actions[action](last).status.state is not S.BROKEN
