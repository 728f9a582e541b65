"""``state_timeline`` derivation (alerts.md §2.13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from logs_mcp.alerts.state_machine import AlertEvent, AlertState, EventKind
from logs_mcp.alerts.timeline import TimelineInterval, state_timeline

NOW = datetime(2025, 1, 2, 12, 0, tzinfo=UTC)
START = NOW - timedelta(hours=24)
S = AlertState
K = EventKind


def hours_ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def row(kind: EventKind, hours: float, before: AlertState, after: AlertState) -> AlertEvent:
    return AlertEvent(kind=kind, created_at=hours_ago(hours), state_before=before, state_after=after)


def timeline(
    *events: AlertEvent, state: AlertState = S.NOT_FIRING, enabled: bool = True
) -> list[TimelineInterval]:
    return state_timeline(events, current_state=state, current_enabled=enabled, now=NOW)


def test_no_events_is_one_interval_of_the_current_state() -> None:
    assert timeline(state=S.FIRING, enabled=False) == [TimelineInterval(START, NOW, S.FIRING, False)]


def test_transitions_split_the_window_and_quiet_checks_collapse() -> None:
    events = [
        row(K.CHECK, 20, S.NOT_FIRING, S.NOT_FIRING),
        row(K.CHECK, 10, S.NOT_FIRING, S.FIRING),
        row(K.CHECK, 9, S.FIRING, S.FIRING),
        row(K.CHECK, 5, S.FIRING, S.NOT_FIRING),
    ]
    assert timeline(*reversed(events)) == [
        TimelineInterval(START, hours_ago(10), S.NOT_FIRING, True),
        TimelineInterval(hours_ago(10), hours_ago(5), S.FIRING, True),
        TimelineInterval(hours_ago(5), NOW, S.NOT_FIRING, True),
    ]


def test_seed_state_is_the_first_in_window_state_before_not_older_rows() -> None:
    events = [row(K.CHECK, 30, S.NOT_FIRING, S.BROKEN), row(K.RESET, 3, S.BROKEN, S.NOT_FIRING)]
    assert timeline(*events) == [
        TimelineInterval(START, hours_ago(3), S.BROKEN, True),
        TimelineInterval(hours_ago(3), NOW, S.NOT_FIRING, True),
    ]


def test_enabled_seed_from_the_last_toggle_before_the_window() -> None:
    events = [
        row(K.ENABLE, 40, S.NOT_FIRING, S.NOT_FIRING),
        row(K.DISABLE, 30, S.FIRING, S.NOT_FIRING),
        row(K.ENABLE, 2, S.NOT_FIRING, S.NOT_FIRING),
    ]
    assert timeline(*events) == [
        TimelineInterval(START, hours_ago(2), S.NOT_FIRING, False),
        TimelineInterval(hours_ago(2), NOW, S.NOT_FIRING, True),
    ]


def test_enabled_seed_is_the_opposite_of_the_first_in_window_toggle() -> None:
    events = [row(K.DISABLE, 6, S.FIRING, S.NOT_FIRING), row(K.SNOOZE, 4, S.NOT_FIRING, S.SNOOZED)]
    assert timeline(*events, enabled=False) == [
        TimelineInterval(START, hours_ago(6), S.FIRING, True),
        TimelineInterval(hours_ago(6), hours_ago(4), S.NOT_FIRING, False),
        TimelineInterval(hours_ago(4), NOW, S.SNOOZED, False),
    ]


def test_rows_at_the_window_start_count_and_same_instant_rows_leave_no_empty_interval() -> None:
    events = [
        row(K.CHECK, 24, S.NOT_FIRING, S.FIRING),
        row(K.CHECK, 8, S.FIRING, S.NOT_FIRING),
        row(K.THRESHOLD_CHANGE, 8, S.NOT_FIRING, S.FIRING),
    ]
    assert timeline(*events) == [TimelineInterval(START, NOW, S.FIRING, True)]


def test_rows_after_now_are_ignored() -> None:
    late = AlertEvent(
        kind=K.CHECK, created_at=NOW + timedelta(minutes=1), state_before=S.NOT_FIRING, state_after=S.FIRING
    )
    assert timeline(late) == [TimelineInterval(START, NOW, S.NOT_FIRING, True)]


kinds = st.sampled_from(list(EventKind))
states = st.sampled_from(list(AlertState))
events = st.builds(row, kinds, st.floats(0, 48), states, states)


@given(st.lists(events, max_size=25), states, st.booleans())
def test_timeline_is_contiguous_covers_the_window_and_merges_neighbours(
    rows: list[AlertEvent], state: AlertState, enabled: bool
) -> None:
    intervals = state_timeline(rows, current_state=state, current_enabled=enabled, now=NOW)
    assert intervals
    assert (intervals[0].start, intervals[-1].end) == (START, NOW)
    for interval in intervals:
        assert interval.start < interval.end
    for left, right in pairwise(intervals):
        assert left.end == right.start
        assert (left.state, left.enabled) != (right.state, right.enabled)
