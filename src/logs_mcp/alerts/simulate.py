"""Simulate (alerts.md §5) and suggest-threshold: replay a draft alert over history with the live state
machine, and derive a threshold from the filters' baseline. Read-only: nothing is written anywhere.

Each replay is one bucketed count query (``store.alert_counts.bucket_counts``) on the shared epoch grid,
filled and replayed by the pure :mod:`logs_mcp.alerts.replay`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from logs_mcp.alerts.models import Alert
from logs_mcp.alerts.replay import (
    SimulationResult,
    TooManyBuckets,
    ensure_bucket_budget,
    replay,
    simulation_series,
)
from logs_mcp.alerts.service import AlertService
from logs_mcp.alerts.simulate_models import (
    BaselineHealth,
    BaselineStats,
    BucketSelection,
    RuleFields,
    SavedAlertSummary,
    SimulatedBucket,
    SimulateRequest,
    SimulationComparison,
    SimulationResponse,
    SimulationSummary,
    SuggestThresholdRequest,
    SuggestThresholdResponse,
)
from logs_mcp.alerts.state_machine import AlertRule, AlertState, Notification, ThresholdOperator, rule_from
from logs_mcp.alerts.windows import BucketSeries
from logs_mcp.config import Settings
from logs_mcp.errors import InvalidInput, NotFound
from logs_mcp.store.alert_counts import bucket_counts
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filters import LogFilters, parse_date
from logs_mcp.store.state import utcnow

WEEK: Final = timedelta(days=7)
MARGIN: Final = 1.2
"""An ``above`` suggestion sits 20% or more over the busiest normal window (``below``: under the quietest)."""
NOISE_SIGMAS: Final = 4
"""…and at least this many standard deviations of count noise (√count, counts being Poisson-like) away."""
SPIKE_NOISE_UNITS: Final = 10
FLAT_SPREAD: Final = 0.1
MAD_TO_SIGMA: Final = 1.4826  # the MAD of a normal distribution times this is its standard deviation
NOISY_FIRES_PER_WEEK: Final = 3

Request = TypeVar("Request", bound=RuleFields)


class SimulateService:
    """Simulate and suggest-threshold on one log store; ``alerts`` loads the saved alert of ``compare_to``."""

    def __init__(
        self,
        store: LogStore,
        settings: Settings,
        alerts: AlertService,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._settings = settings
        self._alerts = alerts
        self._clock = clock

    # --- simulate ----------------------------------------------------------------------------------

    def simulate(self, project_id: int, payload: Mapping[str, Any]) -> SimulationResponse:
        """§5: validate (§5.1), count once, replay the draft from a fresh alert (§5.2), answer §5.3."""
        request = self._parse(SimulateRequest, payload)
        now = self._clock()
        date_from = self._history_start(request.date_from, now)
        saved = self._saved_alert(project_id, request.compare_to) if request.compare_to else None
        history = self._history(project_id, date_from, now)
        draft_rule = _rule(request, request.threshold_count, request.threshold_operator)
        result = replay(history.series(request.log_filters, draft_rule), draft_rule)
        comparison = None
        if saved is not None:
            saved_rule = rule_from(saved)
            saved_result = replay(history.series(_filters_of(saved), saved_rule), saved_rule)
            comparison = SimulationComparison(
                saved=SavedAlertSummary(
                    alert_id=str(saved.id),
                    name=saved.name,
                    filters=saved.filters,
                    threshold_count=saved.threshold_count,
                    threshold_operator=saved.threshold_operator,
                    window_minutes=saved.window_minutes,
                    check_interval_minutes=saved.check_interval_minutes,
                    evaluation_periods=saved.evaluation_periods,
                    datapoints_to_alarm=saved.datapoints_to_alarm,
                    cooldown_minutes=saved.cooldown_minutes,
                    **_summary(saved_result, saved_rule).model_dump(),
                ),
                draft=_summary(result, draft_rule),
            )
        # Validated from the replay's buckets' attributes in one call: a 30-day replay has thousands.
        return SimulationResponse.model_validate(
            {
                "buckets": result.buckets,
                "fire_count": result.fire_count,
                "resolve_count": result.resolve_count,
                "total_buckets": result.total_buckets,
                "threshold_count": request.threshold_count,
                "threshold_operator": request.threshold_operator,
                "comparison": comparison,
            },
            from_attributes=True,
        )

    # --- suggest-threshold -------------------------------------------------------------------------

    def suggest_threshold(self, project_id: int, payload: Mapping[str, Any]) -> SuggestThresholdResponse:
        """A threshold from the filters' history (default: the last 7 days), and what it would have done.

        The baseline is the count every live check would have seen: the rolling window count at each slot
        of the history (simulate's ``count``), full windows only. See :func:`suggest` for the rule and
        :func:`baseline_health` for the flags.
        """
        request = self._parse(SuggestThresholdRequest, payload)
        now = self._clock()
        date_from = self._history_start(request.date_from, now)
        operator = ThresholdOperator(request.threshold_operator)
        probe = _rule(request, 1, operator)
        series = self._history(project_id, date_from, now).series(request.log_filters, probe)
        first = first_full_window(series, probe, date_from)
        counts = series.rolling_counts(probe.window_minutes // probe.check_interval_minutes)[first:]
        if not counts:
            raise InvalidInput(
                f"date_from leaves no full {request.window_minutes}-minute window of history: "
                "start it further back (e.g. -7d).",
                attr="date_from",
                code="invalid",
            )
        baseline = baseline_stats(counts, total_logs=sum(series.counts))
        health = baseline_health(counts, baseline)
        threshold, method = suggest(baseline, operator)
        summary = None
        fires_per_week = None
        if threshold is not None:
            rule = _rule(request, threshold, operator)
            # Replayed from the first full window, so no check reads the start of history as silence.
            summary = _summary(replay(series, rule, warmup=first), rule)
            fires_per_week = round(summary.fire_count * (WEEK / (now - date_from)), 2)
        return SuggestThresholdResponse(
            threshold_count=threshold,
            threshold_operator=operator.value,
            window_minutes=request.window_minutes,
            check_interval_minutes=request.check_interval_minutes,
            evaluation_periods=request.evaluation_periods,
            datapoints_to_alarm=request.datapoints_to_alarm,
            cooldown_minutes=request.cooldown_minutes,
            date_from=date_from,
            date_to=now,
            baseline=baseline,
            health=health,
            simulation=summary,
            fires_per_week=fires_per_week,
            method=method,
            hint=_next_step(health, operator, fires_per_week),
        )

    # --- shared ------------------------------------------------------------------------------------

    def _parse(self, model: type[Request], payload: Mapping[str, Any]) -> Request:
        return model.parse(
            payload,
            window_minutes=self._settings.alert_window_minutes,
            max_evaluation_periods=self._settings.alert_max_evaluation_periods,
        )

    def _history_start(self, text: str, now: datetime) -> datetime:
        """§5.1 ``date_from``: relative or ISO, not older than the look-back limit (one clock read)."""
        try:
            moment = parse_date(text, now)
        except ValueError:
            raise InvalidInput("Invalid date_from value.", attr="date_from", code="invalid") from None
        max_days = self._settings.alert_simulate_max_days
        if moment < now - timedelta(days=max_days):
            raise InvalidInput(
                f"date_from cannot be more than {max_days} days in the past.",
                attr="date_from",
                code="invalid",
            )
        if moment > now:
            raise InvalidInput("date_from cannot be in the future.", attr="date_from", code="invalid")
        return moment

    def _saved_alert(self, project_id: int, alert_id: str) -> Alert:
        try:
            return self._alerts.retrieve(project_id, alert_id)
        except NotFound:
            raise InvalidInput(
                f"No alert {alert_id} in this project (see logs-alerts-list).",
                attr="compare_to",
                code="invalid",
            ) from None

    def _history(self, project_id: int, date_from: datetime, date_to: datetime) -> _History:
        return _History(
            self._store, project_id, date_from, date_to, self._settings.alert_simulate_max_buckets
        )


@dataclass
class _History:
    """The history of one request: each (filters, cadence) is counted once, however many replays use it."""

    store: LogStore
    project_id: int
    date_from: datetime
    date_to: datetime
    max_buckets: int

    def __post_init__(self) -> None:
        self._cache: dict[tuple[str, int], BucketSeries] = {}

    def series(self, filters: LogFilters, rule: AlertRule) -> BucketSeries:
        key = (filters.model_dump_json(), rule.check_interval_minutes)
        if key not in self._cache:
            self._cache[key] = self._count(filters, timedelta(minutes=rule.check_interval_minutes))
        return self._cache[key]

    def _count(self, filters: LogFilters, cadence: timedelta) -> BucketSeries:
        """§5.2 steps 2–3: the bucket budget (before any query), one bucketed count, the filled grid."""
        try:
            ensure_bucket_budget(self.date_from, self.date_to, cadence, self.max_buckets)
        except TooManyBuckets as error:
            raise InvalidInput(str(error), attr="date_from", code="invalid") from None
        minutes = cadence // timedelta(minutes=1)
        rows = bucket_counts(self.store, self.project_id, filters, self.date_from, self.date_to, minutes)
        return simulation_series(dict(rows), date_from=self.date_from, date_to=self.date_to, cadence=cadence)


def selected_buckets(buckets: list[SimulatedBucket], shown: BucketSelection) -> list[SimulatedBucket]:
    """The buckets ``shown`` asks for: where the state changed or a notification went out (changes), also
    every breaching check (breached), or all of them."""
    if shown == "all":
        return buckets
    kept = []
    previous_state: str = AlertState.NOT_FIRING
    for bucket in buckets:
        changed = bucket.state != previous_state or bucket.notification != Notification.NONE
        if changed or (shown == "breached" and bucket.threshold_breached):
            kept.append(bucket)
        previous_state = bucket.state
    return kept


def _rule(request: RuleFields, threshold: int, operator: ThresholdOperator | str) -> AlertRule:
    return rule_from(request, threshold_count=threshold, threshold_operator=operator)


def _filters_of(alert: Alert) -> LogFilters:
    """A saved alert's filters (validated when saved; a draft's ``{}`` counts every log, §4.1)."""
    return LogFilters.model_validate(alert.filters)


def _summary(result: SimulationResult, rule: AlertRule) -> SimulationSummary:
    firing = sum(1 for bucket in result.buckets if bucket.state is AlertState.FIRING)
    return SimulationSummary(
        fire_count=result.fire_count,
        resolve_count=result.resolve_count,
        minutes_firing=firing * rule.check_interval_minutes,
    )


# --- the baseline and the suggestion (pure) ----------------------------------------------------------


def first_full_window(series: BucketSeries, rule: AlertRule, date_from: datetime) -> int:
    """The index of the first check whose whole window lies inside the history.

    The first ``W // C`` checks look back past its start, and when the first bucket began before
    ``date_from`` it holds only part of its logs, so one more check is left out.
    """
    span = rule.window_minutes // rule.check_interval_minutes
    return span + (1 if series.start < date_from else 0)


def percentile(ordered: Sequence[int], share: float) -> int:
    """Nearest rank: the smallest observed count with at least ``share`` of the counts at or below it."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def baseline_stats(counts: Sequence[int], *, total_logs: int) -> BaselineStats:
    """Order statistics of the window counts; ``total_logs`` is the history's, since windows overlap."""
    ordered = sorted(counts)
    return BaselineStats(
        windows=len(ordered),
        total_logs=total_logs,
        zero_share=round(sum(1 for count in ordered if count == 0) / len(ordered), 4),
        min=ordered[0],
        p1=percentile(ordered, 0.01),
        p50=percentile(ordered, 0.50),
        p95=percentile(ordered, 0.95),
        p99=percentile(ordered, 0.99),
        max=ordered[-1],
    )


def noise_scale(counts: Sequence[int], median: int) -> float:
    """How much a window count wanders around the median: the larger of the robust standard deviation
    (1.4826 × median absolute deviation) and Poisson counting noise at the median (√p50, at least 1)."""
    mad = statistics.median(abs(count - median) for count in counts)
    return max(MAD_TO_SIGMA * mad, math.sqrt(max(median, 1)))


def baseline_health(counts: Sequence[int], stats: BaselineStats) -> BaselineHealth:
    """Flags an agent should read before trusting any threshold on this baseline.

    * ``empty``: no window holds a log (total silence, or filters that match nothing).
    * ``sparse``: not empty, but the median window holds no log (p50 = 0): logs come in rare bursts, so an
      ``above`` threshold is a burst detector and a ``below`` one fires on ordinary quiet.
    * ``flat``: not empty or sparse, and p1..p99 span at most max(2, 10% of p50): a steady stream
      (heartbeats, scheduled jobs), where ``below`` catches a stop best.
    * ``spiky``: not empty, and the largest window exceeds p50 by more than 10 noise units
      (:func:`noise_scale`): bursts far beyond normal variation happened in this history.
    """
    empty = stats.max == 0
    sparse = not empty and stats.p50 == 0
    flat = not empty and not sparse and stats.p99 - stats.p1 <= max(2, FLAT_SPREAD * stats.p50)
    spiky = not empty and stats.max > stats.p50 + SPIKE_NOISE_UNITS * noise_scale(counts, stats.p50)
    return BaselineHealth(empty=empty, sparse=sparse, flat=flat, spiky=spiky)


def suggest(stats: BaselineStats, operator: ThresholdOperator) -> tuple[int | None, str]:
    """The suggested threshold and how it was derived.

    ``above``: ceil(max(1.2 × p99, p99 + 4·√p99)). p99 is the busiest *normal* window: the top 1% is left
    out because that is where incidents live, so they stay above the threshold. The 20% margin absorbs
    growth and the over-dispersion of real traffic at large counts; 4 standard deviations of Poisson
    counting noise (√p99) dominate at small counts, where 20% is less than chance alone moves a count.
    ``below`` mirrors it on p1: floor(min(p1 / 1.2, p1 − 4·√p1)), at least 1 (breach on total silence).
    No suggestion for an empty history.
    """
    if stats.max == 0:
        return (
            None,
            "No log matched the filters in this history, so there is no baseline to set a threshold on.",
        )
    if operator is ThresholdOperator.ABOVE:
        level = stats.p99
        by_margin, by_noise = level * MARGIN, level + NOISE_SIGMAS * math.sqrt(max(level, 1))
        threshold = math.ceil(max(by_margin, by_noise))
        return threshold, (
            f"threshold = ceil(max(1.2 × p99, p99 + 4·√p99)) = ceil(max({by_margin:.1f}, {by_noise:.1f})) = "
            f"{threshold}: above the busiest normal window (p99 = {level}) by a 20% margin or 4 standard "
            "deviations of count noise, whichever is larger; breaches when a window has more logs."
        )
    level = stats.p1
    by_margin, by_noise = level / MARGIN, level - NOISE_SIGMAS * math.sqrt(max(level, 1))
    threshold = max(1, math.floor(min(by_margin, by_noise)))
    return threshold, (
        f"threshold = max(1, floor(min(p1 / 1.2, p1 − 4·√p1))) = max(1, floor(min({by_margin:.1f}, "
        f"{by_noise:.1f}))) = {threshold}: below the quietest normal window (p1 = {level}) by a 20% margin "
        "or 4 standard deviations of count noise, whichever is larger; breaches when a window has fewer logs."
    )


def _next_step(health: BaselineHealth, operator: ThresholdOperator, fires_per_week: float | None) -> str:
    if health.empty:
        return (
            "Nothing matched: check serviceNames and severityLevels with logs-services and logs-count, or "
            "start date_from further back."
        )
    if operator is ThresholdOperator.BELOW and health.sparse:
        return (
            "Most windows are empty, so a below alert would fire on ordinary quiet: use a longer "
            "window_minutes, or alert above instead."
        )
    if fires_per_week is not None and fires_per_week > NOISY_FIRES_PER_WEEK:
        return (
            f"About {fires_per_week} fires a week is noisy: require N of M checks (e.g. datapoints_to_alarm "
            "2 of evaluation_periods 3), add cooldown_minutes or use a longer window, then suggest again."
        )
    return (
        "Replay it with logs-alerts-simulate-create over the same history to read each fire and its reason, "
        "adjust if needed, then create it with logs-alerts-create."
    )
