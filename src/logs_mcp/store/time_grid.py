"""The time grid of ClickHouse's ``toStartOfInterval``: buckets counted from the Unix epoch. One place to
floor and ceil instants onto it (count buckets, rollup buckets, whole minutes, whole seconds), so Python
bounds and ClickHouse buckets always agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)
ONE_MINUTE = timedelta(minutes=1)


def floor_to_grid(moment: datetime, width: timedelta) -> datetime:
    """The start of the ``width`` bucket holding ``moment`` (an aware datetime)."""
    return moment - (moment - EPOCH) % width


def ceil_to_grid(moment: datetime, width: timedelta) -> datetime:
    """The first bucket start at or after ``moment``: for a column on this grid, ``< moment`` is
    ``< ceil_to_grid(moment, width)``."""
    floor = floor_to_grid(moment, width)
    return floor if floor == moment else floor + width
