"""Rolling windows on one UTC bucket grid, shared by the live check and simulate (alerts.md §4.2, §5.2).

The check loop counts logs per bucket, builds a :class:`BucketSeries` and asks it for the M windows of a
check; simulate asks the same series for the windows of every bucket. Both therefore sum the same buckets
the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Final

from logs_mcp.alerts.state_machine import AlertRule, WindowCounts
from logs_mcp.store.time_grid import EPOCH
from logs_mcp.store.time_grid import floor_to_grid as store_floor_to_grid

GRID_ORIGIN: Final = EPOCH
"""The one bucket grid: ClickHouse's ``toStartOfInterval(ts, INTERVAL n MINUTE)`` counts from the Unix epoch.

For intervals that divide a day it equals PostHog's midnight / 2000-01-01 grid (§4.5, §5.2 step 3).
"""

MAX_INGESTION_LAG: Final = timedelta(minutes=5)
"""§4.2: an ingestion checkpoint further behind the slot than this is ignored."""


def as_utc(value: datetime) -> datetime:
    """Naive timestamps are UTC (§5.2); aware ones are converted."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def floor_to_grid(instant: datetime, width: timedelta) -> datetime:
    """The start of the grid bucket of ``width`` that contains ``instant``."""
    if width <= timedelta(0):
        raise ValueError("bucket width must be positive")
    return store_floor_to_grid(as_utc(instant), width)


def check_anchor(
    next_check_at: datetime | None, now: datetime, checkpoint: datetime | None = None
) -> datetime:
    """§4.2 ``date_to`` of a check: the slot (``now`` if none), clamped by a fresh ingestion checkpoint.

    Anchoring on the slot, not the wall clock, makes a retried check count the same windows.
    """
    slot = next_check_at if next_check_at is not None else now
    if checkpoint is None or checkpoint > slot or slot - checkpoint > MAX_INGESTION_LAG:
        return slot
    return checkpoint


def check_lookback(date_to: datetime, rule: AlertRule) -> tuple[datetime, datetime]:
    """The half-open range ``[date_to − W − (M−1)·C, date_to)`` a check must count (§4.2)."""
    span = timedelta(
        minutes=rule.window_minutes + (rule.evaluation_periods - 1) * rule.check_interval_minutes
    )
    return date_to - span, date_to


@dataclass(frozen=True, slots=True)
class BucketSeries:
    """Contiguous, zero-filled log counts: bucket i covers ``[start + i·width, start + (i+1)·width)``."""

    start: datetime
    width: timedelta
    counts: tuple[int, ...]
    _prefix: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        if self.width <= timedelta(0):
            raise ValueError("bucket width must be positive")
        if any(count < 0 for count in self.counts):
            raise ValueError("bucket counts must be >= 0")
        # Prefix sums make every window an O(1) difference, whatever its length.
        object.__setattr__(self, "_prefix", (0, *accumulate(self.counts)))

    @classmethod
    def from_counts(
        cls, rows: Mapping[datetime, int], *, start: datetime, end: datetime, width: timedelta
    ) -> BucketSeries:
        """Zero-fill sparse query rows (bucket start → count) over ``[start, end)``.

        Rows off the grid anchored at ``start`` or outside the range are a caller bug and raise.
        """
        start = as_utc(start)
        size = _whole_buckets(as_utc(end) - start, width, "end - start")
        counts = [0] * size
        for bucket_start, count in rows.items():
            index = _whole_buckets(as_utc(bucket_start) - start, width, "bucket start")
            if not 0 <= index < size:
                raise ValueError(f"bucket {bucket_start.isoformat()} is outside the series")
            counts[index] += count
        return cls(start, width, tuple(counts))

    @property
    def end(self) -> datetime:
        return self.start + len(self.counts) * self.width

    def timestamps(self) -> list[datetime]:
        return [self.start + i * self.width for i in range(len(self.counts))]

    def total(self, start: datetime, end: datetime) -> int:
        """Logs in ``[start, end)``; bounds must be on the grid, buckets outside the series count 0."""
        first = _whole_buckets(start - self.start, self.width, "window start")
        last = _whole_buckets(end - self.start, self.width, "window end")
        return self._sum(first, last)

    def window_counts(
        self, date_to: datetime, *, window: timedelta, cadence: timedelta, periods: int
    ) -> WindowCounts:
        """The ``periods`` windows of a check at ``date_to``, newest first (§4.2 [A]).

        A window ending before the series starts is history that does not exist, so it is left out and the
        N-of-M window is shorter (§5.2 step 5); a window reaching past the series end would be undercounted
        and raises.
        """
        end = _whole_buckets(date_to - self.start, self.width, "date_to")
        span = _whole_buckets(window, self.width, "window")
        step = _whole_buckets(cadence, self.width, "cadence")
        if not 0 <= end <= len(self.counts):
            raise ValueError("date_to is outside the bucket series")
        if span < 1 or step < 1 or periods < 1:
            raise ValueError("window, cadence and periods must be positive")
        ends = range(end, end - periods * step, -step)
        counts = tuple(self._sum(last - span, last) for last in ends if last >= 0)
        return WindowCounts(date_to=date_to, window=window, cadence=cadence, counts=counts)

    def rolling_counts(self, span: int) -> list[int]:
        """For every bucket i, the logs in the ``span`` buckets before it: ``[i − span, i)`` (§5.2 step 4).

        Bucket i itself is excluded because it is the future of a check evaluated at its start.
        """
        if span < 1:
            raise ValueError("span must be >= 1")
        return [self._sum(i - span, i) for i in range(len(self.counts))]

    def _sum(self, first: int, last: int) -> int:
        size = len(self.counts)
        return self._prefix[min(max(last, 0), size)] - self._prefix[min(max(first, 0), size)]


def _whole_buckets(span: timedelta, width: timedelta, what: str) -> int:
    buckets, remainder = divmod(span, width)
    if remainder:
        raise ValueError(f"{what} is not on the {width} bucket grid")
    return buckets
