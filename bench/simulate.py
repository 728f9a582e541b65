"""How fast simulate answers over 30 days at a 5-minute cadence (8,641 checks) on the 10M-row bench store,
and where the time goes: the one bucketed count query, the replay, and the rest (filling the grid,
building the response, serialising it as the REST route does).

    .venv/bin/python bench/simulate.py [--rows 10000000] [--repeat 9]

Reuses the rows of bench/_common.py (generated and loaded on first use). The clock is pinned to the end of
the data, so the 30 days replayed hold the whole generated week. Each figure is the median of ``--repeat``
runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _common import BIG_PROJECT, open_store

from logs_mcp.alerts import replay as replay_module
from logs_mcp.alerts import simulate as simulate_module
from logs_mcp.alerts.service import AlertService
from logs_mcp.alerts.simulate import SimulateService
from logs_mcp.config import Settings
from logs_mcp.store import state
from logs_mcp.store.clickhouse import LogStore, QueryResult

DRAFTS: dict[str, dict[str, Any]] = {
    "errors, 1 of 1": {
        "filters": {"severityLevels": ["error", "fatal"]},
        "threshold_count": 1500,
        "threshold_operator": "above",
        "window_minutes": 5,
    },
    "checkout errors, 3 of 10, cooldown": {
        "filters": {"serviceNames": ["checkout"], "severityLevels": ["error"]},
        "threshold_count": 150,
        "threshold_operator": "above",
        "window_minutes": 15,
        "evaluation_periods": 10,
        "datapoints_to_alarm": 3,
        "cooldown_minutes": 30,
    },
    "payments silent (below), 2 of 3": {
        "filters": {"serviceNames": ["payments"]},
        "threshold_count": 1000,
        "threshold_operator": "below",
        "window_minutes": 5,
        "evaluation_periods": 3,
        "datapoints_to_alarm": 2,
    },
}


class Stopwatch:
    """Accumulated seconds per label, filled by wrapping the functions simulate calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def timing(self, label: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.timing(label):
                return function(*args, **kwargs)

        return timed


def instrument(store: LogStore, watch: Stopwatch) -> None:
    """Time the store's queries and the replay where simulate calls them (the module attributes)."""
    query = store.query

    def timed_query(
        sql: str, parameters: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None
    ) -> QueryResult:
        with watch.timing("query"):
            return query(sql, parameters, settings)

    store.query = timed_query  # type: ignore[method-assign]
    simulate_module.replay = watch.wrap("replay", replay_module.replay)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    store, dataset = open_store(args.rows)
    watch = Stopwatch()
    instrument(store, watch)
    settings = Settings()
    service = SimulateService(
        store, settings, AlertService(state.make_engine("sqlite://"), settings), clock=lambda: dataset.end
    )
    print(f"{args.rows:,} rows, data in [{dataset.start:%Y-%m-%d %H:%M}, {dataset.end:%Y-%m-%d %H:%M}) UTC")
    print(f"{'draft':36} {'p50 ms':>7} {'query':>7} {'replay':>7} {'rest':>7} {'buckets':>8} {'fires':>6}")
    try:
        for name, draft in DRAFTS.items():
            payload = draft | {"date_from": "-30d"}
            runs = []
            for attempt in range(args.repeat + 1):
                watch.seconds.clear()
                started = time.perf_counter()
                response = service.simulate(BIG_PROJECT, payload)
                response.model_dump_json(exclude_none=True)  # what the REST route sends
                total = time.perf_counter() - started
                if attempt:  # the first run warms caches
                    runs.append((total, watch.seconds.get("query", 0.0), watch.seconds.get("replay", 0.0)))
            total, query, replayed = (statistics.median(column) * 1000 for column in zip(*runs, strict=True))
            print(
                f"{name:36} {total:7.0f} {query:7.0f} {replayed:7.0f} {total - query - replayed:7.0f} "
                f"{response.total_buckets:8,} {response.fire_count:6}"
            )
    finally:
        store.close()


if __name__ == "__main__":
    main()
