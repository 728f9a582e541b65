"""The epoch grid shared by counts, rollups and alert windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from logs_mcp.services import Services
from logs_mcp.store.time_grid import ONE_MINUTE, ONE_SECOND, ceil_to_grid, floor_to_grid

T = datetime(2026, 11, 27, 4, 27, 13, 250_000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("width", "floor", "ceil"),
    [
        (ONE_SECOND, T.replace(microsecond=0), datetime(2026, 11, 27, 4, 27, 14, tzinfo=UTC)),
        (ONE_MINUTE, datetime(2026, 11, 27, 4, 27, tzinfo=UTC), datetime(2026, 11, 27, 4, 28, tzinfo=UTC)),
        (
            timedelta(minutes=10),
            datetime(2026, 11, 27, 4, 20, tzinfo=UTC),
            datetime(2026, 11, 27, 4, 30, tzinfo=UTC),
        ),
        (
            timedelta(hours=6),
            datetime(2026, 11, 27, 0, 0, tzinfo=UTC),
            datetime(2026, 11, 27, 6, 0, tzinfo=UTC),
        ),
    ],
)
def test_floor_and_ceil_land_on_the_epoch_grid(width: timedelta, floor: datetime, ceil: datetime) -> None:
    assert floor_to_grid(T, width) == floor
    assert ceil_to_grid(T, width) == ceil


def test_a_moment_on_the_grid_is_its_own_floor_and_ceil() -> None:
    on_grid = datetime(2026, 11, 27, 4, 20, tzinfo=UTC)
    assert floor_to_grid(on_grid, timedelta(minutes=10)) == on_grid
    assert ceil_to_grid(on_grid, timedelta(minutes=10)) == on_grid


@pytest.mark.parametrize("seconds", [1, 60, 420, 600, 3600, 7 * 3600, 86400])
def test_floor_is_clickhouse_s_to_start_of_interval(services: Services, seconds: int) -> None:
    # 420 s and 7 h do not divide the day: both sides still count from the epoch.
    result = services.log_store.query(
        "SELECT toStartOfInterval({t:DateTime64(6, 'UTC')}, toIntervalSecond({s:UInt32}))",
        {"t": T, "s": seconds},
    )
    expected = result.rows[0][0].replace(tzinfo=UTC)
    assert floor_to_grid(T, timedelta(seconds=seconds)) == expected
