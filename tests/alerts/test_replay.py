"""Simulate's pure part (alerts.md §5.2–§5.4) and the rolling windows it shares with the live check (§4.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logs_mcp.alerts.replay import (
    SimulationResult,
    TooManyBuckets,
    ensure_bucket_budget,
    replay,
    simulation_reason,
    simulation_series,
)
from logs_mcp.alerts.state_machine import (
    AlertRule,
    AlertState,
    AlertStatus,
    Notification,
    ThresholdOperator,
    WindowCounts,
    evaluate_check,
)
from logs_mcp.alerts.windows import BucketSeries, check_anchor, check_lookback, floor_to_grid

T0 = datetime(2025, 12, 16, 10, 0, tzinfo=UTC)
ONE = timedelta(minutes=1)
FIVE = timedelta(minutes=5)


def series(*counts: int, width: timedelta = FIVE) -> BucketSeries:
    return BucketSeries(T0, width, counts)


def reasons(result: SimulationResult) -> list[str]:
    return [bucket.reason for bucket in result.buckets]


# --- §5.2 replay and §5.4 reasons ---------------------------------------------------------------------


def test_replay_single_check_mode_fires_and_resolves() -> None:
    result = replay(series(0, 20, 20, 0, 0, 20), AlertRule(threshold_count=10))
    assert [b.count for b in result.buckets] == [0, 0, 20, 20, 0, 0]  # bucket i counts bucket i−1
    assert reasons(result) == [
        "0 ≤ 10 — OK",
        "0 ≤ 10 — OK",
        "20 > 10 — fired",
        "20 > 10 — still firing",
        "0 ≤ 10 — resolved",
        "0 ≤ 10 — OK",
    ]
    assert [b.notification for b in result.buckets] == ["none", "none", "fire", "none", "resolve", "none"]
    assert [b.state for b in result.buckets][2:5] == [
        AlertState.FIRING,
        AlertState.FIRING,
        AlertState.NOT_FIRING,
    ]
    assert (result.fire_count, result.resolve_count, result.total_buckets) == (1, 1, 6)


def test_replay_n_of_m_waits_then_fires_with_a_growing_history() -> None:
    rule = AlertRule(threshold_count=10, evaluation_periods=3, datapoints_to_alarm=2)
    result = replay(series(20, 0, 20, 0, 0, 0), rule)
    assert reasons(result) == [
        "0 ≤ 10 — OK",
        "20 > 10, 1 of last 2 checks breached (need 2 of 3) — waiting",
        "0 ≤ 10 — OK",
        "20 > 10, 2 of last 3 checks breached (need 2 of 3) — fired",
        "0 ≤ 10 — resolved",
        "0 ≤ 10 — OK",
    ]
    assert (result.fire_count, result.resolve_count) == (1, 1)


def test_replay_n_of_m_keeps_firing_without_a_current_breach() -> None:
    rule = AlertRule(threshold_count=10, evaluation_periods=3, datapoints_to_alarm=2)
    result = replay(series(20, 20, 0, 0, 0), rule)
    assert reasons(result)[2:] == [
        "20 > 10, 2 of last 3 checks breached (need 2 of 3) — fired",
        "0 ≤ 10",
        "0 ≤ 10 — resolved",
    ]


def test_replay_cooldown_suppresses_a_resolve_and_counts_only_delivered() -> None:
    result = replay(series(20, 0, 20, 0, 0, 0), AlertRule(threshold_count=10, cooldown_minutes=10))
    assert reasons(result) == [
        "0 ≤ 10 — OK",
        "20 > 10 — fired",
        "0 ≤ 10 — resolved (notification suppressed by cooldown)",
        "20 > 10 — fired",  # exactly at last + cooldown: allowed
        "0 ≤ 10 — resolved (notification suppressed by cooldown)",
        "0 ≤ 10 — OK",
    ]
    assert (result.fire_count, result.resolve_count) == (2, 0)


def test_replay_suppressed_fire_still_reads_fired() -> None:
    result = replay(series(20, 0, 0, 0, 20, 0), AlertRule(threshold_count=10, cooldown_minutes=30))
    last = result.buckets[-1]
    assert (last.state, last.notification, last.reason) == (AlertState.FIRING, "none", "20 > 10 — fired")
    assert (result.fire_count, result.resolve_count) == (1, 0)


def test_replay_below_fires_on_silence() -> None:
    rule = AlertRule(threshold_count=5, threshold_operator=ThresholdOperator.BELOW)
    assert reasons(replay(series(0, 0, 9), rule)) == [
        "0 < 5 — fired",
        "0 < 5 — still firing",
        "0 < 5 — still firing",
    ]
    assert reasons(replay(series(9, 5, 0), rule))[1:] == ["9 ≥ 5 — resolved", "5 ≥ 5 — OK"]


@pytest.mark.parametrize(
    ("window", "cadence", "expected"),
    [
        (15, 5, [0, 1, 3, 6, 9]),  # b = 3 buckets
        (10, 3, [0, 1, 3, 6, 9]),  # b = 10 // 3 = 3: the window silently covers 9 minutes
        (5, 5, [0, 1, 2, 3, 4]),
    ],
)
def test_rolling_window_excludes_the_bucket_itself(window: int, cadence: int, expected: list[int]) -> None:
    rule = AlertRule(threshold_count=100, window_minutes=window, check_interval_minutes=cadence)
    result = replay(series(1, 2, 3, 4, 5, width=timedelta(minutes=cadence)), rule)
    assert [b.count for b in result.buckets] == expected


def test_replay_refuses_a_grid_that_does_not_match_the_cadence() -> None:
    with pytest.raises(ValueError, match="check_interval_minutes"):
        replay(series(1, width=ONE), AlertRule())
    with pytest.raises(ValueError, match="cannot exceed"):
        replay(series(1, width=timedelta(minutes=10)), AlertRule(check_interval_minutes=10))


def test_bucket_json_uses_the_spec_timestamp_format() -> None:
    bucket = replay(series(0), AlertRule()).buckets[0]
    assert bucket.to_dict() == {
        "timestamp": "2025-12-16T10:00:00+00:00",
        "count": 0,
        "threshold_breached": False,
        "state": "not_firing",
        "notification": "none",
        "reason": "0 ≤ 100 — OK",
    }


def oracle(counts: list[int], rule: AlertRule) -> list[tuple[int, bool, str, str]]:
    """§5.2 written out naively, independent of the state machine module."""
    span = rule.window_minutes // rule.check_interval_minutes
    state, last, history, out = "not_firing", None, [], []
    for i in range(len(counts)):
        now = i * rule.check_interval_minutes
        rolling = sum(counts[max(0, i - span) : i])
        above = rule.threshold_operator == "above"
        breached = rolling > rule.threshold_count if above else rolling < rule.threshold_count
        history = [breached, *history][: rule.evaluation_periods]
        met = sum(history) >= rule.datapoints_to_alarm
        notification = "none"
        if state == "not_firing" and met:
            state, notification = "firing", "fire"
        elif state == "firing" and not met:
            state, notification = "not_firing", "resolve"
        if notification != "none":
            if rule.cooldown_minutes and last is not None and now < last + rule.cooldown_minutes:
                notification = "none"
            else:
                last = now
        out.append((rolling, breached, state, notification))
    return out


rules = st.builds(
    lambda m, n_share, threshold, below, cooldown, window: AlertRule(
        evaluation_periods=m,
        datapoints_to_alarm=max(1, round(m * n_share)),
        threshold_count=threshold,
        threshold_operator=ThresholdOperator.BELOW if below else ThresholdOperator.ABOVE,
        cooldown_minutes=cooldown,
        window_minutes=window,
    ),
    st.integers(1, 10),
    st.floats(0, 1),
    st.integers(0, 30),
    st.booleans(),
    st.sampled_from([0, 5, 10, 30]),
    st.sampled_from([5, 10, 15, 30, 60]),
)


@given(rules, st.lists(st.integers(0, 12), min_size=1, max_size=80))
def test_replay_matches_the_spec_algorithm(rule: AlertRule, counts: list[int]) -> None:
    result = replay(series(*counts), rule)
    got = [(b.count, b.threshold_breached, b.state.value, b.notification.value) for b in result.buckets]
    expected = oracle(counts, rule)
    assert got == expected
    assert result.fire_count == sum(row[3] == "fire" for row in expected)
    assert result.resolve_count == sum(row[3] == "resolve" for row in expected)


@given(rules, st.lists(st.integers(0, 12), min_size=1, max_size=80))
def test_without_cooldown_fires_and_resolves_alternate(rule: AlertRule, counts: list[int]) -> None:
    result = replay(series(*counts), AlertRule(**{**_fields(rule), "cooldown_minutes": 0}))
    sent = [b.notification for b in result.buckets if b.notification is not Notification.NONE]
    assert sent == [Notification.FIRE, Notification.RESOLVE] * (len(sent) // 2) + [Notification.FIRE] * (
        len(sent) % 2
    )


def _fields(rule: AlertRule) -> dict[str, object]:
    return {name: getattr(rule, name) for name in rule.__dataclass_fields__}


# --- §5.2 step 3 bucket fill and limit ----------------------------------------------------------------


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def test_fill_keeps_the_floored_first_bucket_only_when_it_has_data() -> None:
    with_data = simulation_series({at(0): 7, at(10): 3}, date_from=at(2), date_to=at(20), cadence=FIVE)
    assert (with_data.start, with_data.counts) == (at(0), (7, 0, 3, 0, 0))
    without = simulation_series({at(10): 3}, date_from=at(2), date_to=at(20), cadence=FIVE)
    assert (without.start, without.counts) == (at(5), (0, 3, 0, 0))


def test_fill_starts_on_date_from_when_it_is_on_the_grid_and_includes_date_to() -> None:
    filled = simulation_series({}, date_from=at(0), date_to=at(10), cadence=FIVE)
    assert filled.timestamps() == [at(0), at(5), at(10)]
    assert filled.counts == (0, 0, 0)


def test_fill_reads_naive_rows_as_utc_and_ignores_rows_outside_the_range() -> None:
    naive = at(5).replace(tzinfo=None)
    filled = simulation_series(
        {naive: 4, at(-5): 9, at(30): 9}, date_from=at(0), date_to=at(10), cadence=FIVE
    )
    assert filled.counts == (0, 4, 0)


def test_fill_refuses_rows_off_the_grid() -> None:
    with pytest.raises(ValueError, match="grid"):
        simulation_series({at(6): 1}, date_from=at(0), date_to=at(10), cadence=FIVE)


def test_bucket_budget() -> None:
    day = timedelta(days=1)
    assert ensure_bucket_budget(at(2), at(20), FIVE) == 4
    assert ensure_bucket_budget(T0, T0 + 14_999 * ONE, ONE) == 15_000
    with pytest.raises(TooManyBuckets) as error:
        ensure_bucket_budget(T0 - 30 * day, T0, FIVE, limit=8_000)
    assert str(error.value) == (
        "Simulation would produce 8641 buckets (max 8000). Use a shorter date range or larger window."
    )


# --- §4.2 windows shared with the live check ----------------------------------------------------------


def test_spec_example_windows_anchored_on_the_slot() -> None:
    date_to = datetime(2025, 1, 1, 12, 30, tzinfo=UTC)
    rule = AlertRule(window_minutes=15, evaluation_periods=5)
    start, end = check_lookback(date_to, rule)
    rows = {datetime(2025, 1, 1, 12, minute, tzinfo=UTC): 40 for minute in range(8, 13)}
    buckets = BucketSeries.from_counts(rows, start=start, end=end, width=ONE)
    windows = buckets.window_counts(date_to, window=15 * ONE, cadence=FIVE, periods=5)
    assert tuple(reversed(windows.counts)) == (80, 200, 200, 120, 0)  # oldest first, as in §4.2
    assert windows.bounds(4) == (
        datetime(2025, 1, 1, 11, 55, tzinfo=UTC),
        datetime(2025, 1, 1, 12, 10, tzinfo=UTC),
    )


def test_steady_rate_gives_equal_windows() -> None:
    date_to = datetime(2025, 1, 1, 12, 33, tzinfo=UTC)
    start, end = check_lookback(date_to, AlertRule(window_minutes=15, evaluation_periods=3))
    rows = {start + i * ONE: 1 for i in range((end - start) // ONE)}
    buckets = BucketSeries.from_counts(rows, start=start, end=end, width=ONE)
    assert buckets.window_counts(date_to, window=15 * ONE, cadence=FIVE, periods=3).counts == (15, 15, 15)


@pytest.mark.parametrize(
    ("window", "periods", "lookback"), [(5, 3, 15), (5, 10, 50), (10, 3, 20), (60, 10, 105)]
)
def test_check_lookback(window: int, periods: int, lookback: int) -> None:
    start, end = check_lookback(T0, AlertRule(window_minutes=window, evaluation_periods=periods))
    assert (end, end - start) == (T0, lookback * ONE)


@pytest.mark.parametrize(
    ("slot", "checkpoint", "expected"),
    [
        (None, None, at(3)),  # no slot: now
        (at(0), None, at(0)),
        (at(0), at(-2), at(-2)),  # fresh checkpoint clamps
        (at(0), at(-5), at(-5)),  # exactly 5 minutes behind still counts
        (at(0), at(-6), at(0)),  # stale checkpoint ignored
        (at(0), at(1), at(0)),  # future checkpoint ignored
    ],
)
def test_check_anchor(slot: datetime | None, checkpoint: datetime | None, expected: datetime) -> None:
    assert check_anchor(slot, at(3), checkpoint) == expected


def test_window_counts_refuse_what_they_cannot_count() -> None:
    buckets = series(1, 2, 3)
    with pytest.raises(ValueError, match="outside"):
        buckets.window_counts(at(20), window=FIVE, cadence=FIVE, periods=1)
    with pytest.raises(ValueError, match="grid"):
        buckets.window_counts(at(7), window=FIVE, cadence=FIVE, periods=1)
    with pytest.raises(ValueError, match="outside the series"):
        BucketSeries.from_counts({at(15): 1}, start=T0, end=at(15), width=FIVE)


def test_floor_to_grid_uses_one_utc_grid() -> None:
    assert floor_to_grid(at(7), FIVE) == at(5)
    assert floor_to_grid(datetime(2025, 12, 16, 10, 7), FIVE) == at(5)


def replay_every_check(counts: list[int], rule: AlertRule, warmup: int = 0) -> list[tuple[object, ...]]:
    """Every bucket through the decision function, with nothing skipped: what the lean replay must equal."""
    span = rule.window_minutes // rule.check_interval_minutes
    cadence = timedelta(minutes=rule.check_interval_minutes)
    rolling = series(*counts, width=cadence).rolling_counts(span)
    status, out = AlertStatus(), []
    for index in range(warmup, len(counts)):
        now = T0 + index * cadence
        window = tuple(reversed(rolling[max(warmup, index - rule.evaluation_periods + 1) : index + 1]))
        observed = WindowCounts(date_to=now, window=span * cadence, cadence=cadence, counts=window)
        decision = evaluate_check(status, rule, observed, now)
        out.append((now, decision.after.state, decision.notification, simulation_reason(decision)))
        status = decision.after
    return out


@given(rules, st.lists(st.integers(0, 12), min_size=1, max_size=80), st.integers(0, 5))
def test_quiet_checks_written_out_equal_the_decision_function(
    rule: AlertRule, counts: list[int], warmup: int
) -> None:
    result = replay(series(*counts), rule, warmup=warmup)
    got = [(b.timestamp, b.state, b.notification, b.reason) for b in result.buckets]
    assert got == replay_every_check(counts, rule, warmup)


def test_warmup_buckets_only_fill_windows() -> None:
    result = replay(
        series(0, 0, 20, 0),
        AlertRule(threshold_count=10, threshold_operator=ThresholdOperator.BELOW),
        warmup=1,
    )
    assert [(b.timestamp, b.count, b.notification.value) for b in result.buckets] == [
        (T0 + FIVE, 0, "fire"),  # the first replayed check counts bucket 0: real history, not missing
        (T0 + 2 * FIVE, 0, "none"),
        (T0 + 3 * FIVE, 20, "resolve"),
    ]
