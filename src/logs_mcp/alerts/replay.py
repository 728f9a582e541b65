"""The pure part of simulate (alerts.md §5.2–§5.4): fill the bucket grid, replay the live state machine.

The service validates the request (§5.1), checks :func:`ensure_bucket_budget` before querying, runs one
bucketed count query on the :data:`~logs_mcp.alerts.windows.GRID_ORIGIN` grid, and hands the rows to
:func:`simulation_series` and :func:`replay`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Final

from logs_mcp.alerts.state_machine import (
    AlertRule,
    AlertState,
    AlertStatus,
    BreachTally,
    CheckDecision,
    Notification,
    NotificationReason,
    ThresholdOperator,
    WindowCounts,
    evaluate_check,
)
from logs_mcp.alerts.windows import BucketSeries, as_utc, floor_to_grid

MAX_SIMULATION_BUCKETS: Final = 15_000
"""§5.2 step 3 default; the service passes its setting."""

_SYMBOLS: Final = {
    # operator → (symbol when breached, negated symbol when not), §5.4
    ThresholdOperator.ABOVE: (">", "≤"),
    ThresholdOperator.BELOW: ("<", "≥"),
}


class TooManyBuckets(ValueError):
    """§5.2 step 3: the range would produce more buckets than allowed (400 on the request)."""

    def __init__(self, buckets: int, limit: int) -> None:
        super().__init__(
            f"Simulation would produce {buckets} buckets (max {limit}). "
            "Use a shorter date range or larger window."
        )
        self.buckets = buckets
        self.limit = limit


def ensure_bucket_budget(
    date_from: datetime, date_to: datetime, cadence: timedelta, limit: int = MAX_SIMULATION_BUCKETS
) -> int:
    """§5.2 step 3: expected = ``floor((date_to − date_from)/C) + 1``; raise before querying if over limit."""
    expected = (as_utc(date_to) - as_utc(date_from)) // cadence + 1
    if expected > limit:
        raise TooManyBuckets(expected, limit)
    return expected


def simulation_series(
    rows: Mapping[datetime, int], *, date_from: datetime, date_to: datetime, cadence: timedelta
) -> BucketSeries:
    """§5.2 step 3: the buckets from ``date_from`` floored to the grid up to and including ``date_to``.

    The floored first bucket precedes ``date_from``; it is kept only when the query returned it. Rows
    outside that range are not part of the replay.
    """
    date_from, date_to = as_utc(date_from), as_utc(date_to)
    first = floor_to_grid(date_from, cadence)
    utc_rows = {as_utc(bucket): count for bucket, count in rows.items()}
    start = first if first == date_from or first in utc_rows else first + cadence
    end = floor_to_grid(date_to, cadence) + cadence
    in_range = {bucket: count for bucket, count in utc_rows.items() if start <= bucket < end}
    return BucketSeries.from_counts(in_range, start=start, end=end, width=cadence)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatedBucket:
    """One replayed check (§5.3); ``count`` is the rolling window count, not the raw bucket count."""

    timestamp: datetime
    count: int
    threshold_breached: bool
    state: AlertState
    notification: Notification
    reason: str

    def to_dict(self) -> dict[str, object]:
        """The §5.3 JSON shape (timestamps as ``2025-12-16T10:00:00+00:00``, not pydantic's ``Z``)."""
        return {
            "timestamp": self.timestamp.isoformat(),
            "count": self.count,
            "threshold_breached": self.threshold_breached,
            "state": self.state.value,
            "notification": self.notification.value,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationResult:
    buckets: tuple[SimulatedBucket, ...]
    fire_count: int
    resolve_count: int

    @property
    def total_buckets(self) -> int:
        return len(self.buckets)


def replay(series: BucketSeries, rule: AlertRule, *, warmup: int = 0) -> SimulationResult:
    """§5.2 steps 4–6: evaluate every bucket with the live decision function, from a fresh alert.

    The check at bucket i counts the ``W // C`` buckets before it (the bucket itself is its future), so the
    first bucket is always 0; its N-of-M history is the previous buckets' windows. The first ``warmup``
    buckets are not replayed: they only fill the windows of later checks (for a replay that must not start
    with windows reaching back before the history, as suggest-threshold's).

    A not-firing alert none of whose last M windows breached cannot fire (§2.3 rule 4 needs N ≥ 1
    breaches) and needs no notification, hence no cooldown: those checks, nearly all of a quiet alert's,
    are written out without calling the decision function. So are the checks of a firing alert all of
    whose last M windows breached: it had N of them when it fired, so it still has, and stays firing
    silently (a long outage, or a `below` alert through days of silence). Every other check goes through
    :func:`evaluate_check`.
    """
    cadence = timedelta(minutes=rule.check_interval_minutes)
    if series.width != cadence:
        raise ValueError("the bucket width must equal check_interval_minutes")
    span_buckets = rule.window_minutes // rule.check_interval_minutes
    if span_buckets < 1:
        raise ValueError("check_interval_minutes cannot exceed window_minutes")
    if warmup < 0:
        raise ValueError("warmup must be >= 0")
    window = span_buckets * cadence
    periods = rule.evaluation_periods
    # The N-of-M history of bucket i is the rolling count of buckets i, i−1, …: the same windows the live
    # check would count at each slot, computed once for the whole series.
    rolling = series.rolling_counts(span_buckets)
    breaches_before = [0, *accumulate(map(rule.breaches, rolling))]
    start, width = series.start, series.width
    status = AlertStatus()
    buckets: list[SimulatedBucket] = []
    fires = resolves = 0
    for index in range(warmup, len(rolling)):
        timestamp = start + index * width
        oldest = max(warmup, index - periods + 1)
        breaches = breaches_before[index + 1] - breaches_before[oldest]
        if status.state is AlertState.NOT_FIRING and breaches == 0:
            buckets.append(_steady_bucket(timestamp, rolling[index], rule, firing=False))
            continue
        if status.state is AlertState.FIRING and breaches == index + 1 - oldest:
            buckets.append(_steady_bucket(timestamp, rolling[index], rule, firing=True))
            continue
        counts = tuple(reversed(rolling[oldest : index + 1]))
        observed = WindowCounts(date_to=timestamp, window=window, cadence=cadence, counts=counts)
        decision = evaluate_check(status, rule, observed, timestamp)
        buckets.append(_simulated_bucket(decision))
        fires += decision.notification is Notification.FIRE
        resolves += decision.notification is Notification.RESOLVE
        status = decision.after
    return SimulationResult(buckets=tuple(buckets), fire_count=fires, resolve_count=resolves)


def _steady_bucket(timestamp: datetime, count: int, rule: AlertRule, *, firing: bool) -> SimulatedBucket:
    """A check that cannot change the state: quiet and calm, or firing and breached."""
    return SimulatedBucket(
        timestamp=timestamp,
        count=count,
        threshold_breached=firing,
        state=AlertState.FIRING if firing else AlertState.NOT_FIRING,
        notification=Notification.NONE,
        reason=f"{_describe(count, firing, rule)} — {'still firing' if firing else 'OK'}",
    )


def _simulated_bucket(decision: CheckDecision) -> SimulatedBucket:
    tally = _tally(decision)
    return SimulatedBucket(
        timestamp=decision.now,
        count=tally.current_count,
        threshold_breached=tally.current_breached,
        state=decision.after.state,
        notification=decision.notification,
        reason=simulation_reason(decision),
    )


def _tally(decision: CheckDecision) -> BreachTally:
    if decision.tally is None:
        raise ValueError("simulate replays successful checks only")
    return decision.tally


def simulation_reason(decision: CheckDecision) -> str:
    """The §5.4 ``reason`` of a successful check (em dash U+2014 between spaces)."""
    tally = _tally(decision)
    rule = decision.rule
    desc = _describe(tally.current_count, tally.current_breached, rule)
    n_of_m = (
        f"{desc}, {tally.breaches} of last {tally.considered} checks breached "
        f"(need {tally.needed} of {tally.periods})"
    )
    was_firing = decision.before.state in (AlertState.FIRING, AlertState.PENDING_RESOLVE)
    is_firing = decision.after.state is AlertState.FIRING
    if not was_firing:
        if is_firing:
            return f"{n_of_m if rule.n_of_m else desc} — fired"
        if tally.current_breached and rule.n_of_m:
            return f"{n_of_m} — waiting"
        return f"{desc} — OK"
    if not is_firing:
        # The decision knows exactly why no resolve was sent; §5.4's heuristic only approximates this.
        suppressed = decision.reason is NotificationReason.COOLDOWN
        return (
            f"{desc} — resolved (notification suppressed by cooldown)" if suppressed else f"{desc} — resolved"
        )
    return f"{desc} — still firing" if tally.current_breached else desc


def _describe(count: int, breached: bool, rule: AlertRule) -> str:
    """§5.4 ``desc``: ``"<count> <op> <threshold>"``, the operator negated when not breached."""
    breached_symbol, calm_symbol = _SYMBOLS[rule.threshold_operator]
    return f"{count} {breached_symbol if breached else calm_symbol} {rule.threshold_count}"
