"""A deterministic log fixture with known contents, for the query, count and discovery tests.

``insert_fixture(store, project_id, now)`` stores the same rows for the same ``(seed, size, now)``
through :meth:`LogStore.insert_columns` and returns them as dicts shaped like the rows
``logs_mcp.store.filter_eval`` evaluates, so a test computes its expectation in Python::

    fixture = insert_fixture(services.log_store, project.id)
    expected = fixture.matching(LogFilters.model_validate({"dateRange": {"date_from": "-1d"}}))

What is in it (``size`` rows, default 600):
- timestamps over the 5 days before ``now``: a quarter in the last hour, a few at exactly the same
  microsecond (page ties are broken by uuid), one at exactly ``now - 1h`` (the default window's edge)
  and none at or after ``now``;
- services ``api``, ``web``, ``worker``, ``payments``, ``Checkout`` (mixed case) and ``""`` (no
  service.name); every severity level, info the most common;
- log attributes: ``http.status_code`` and ``duration_ms`` (numeric text), ``http.method``,
  ``user.id``, ``feature.enabled`` ("true"/"false"), each present on some rows only;
- resource attributes: ``service.name``, ``k8s.namespace.name``, ``host.name`` (and
  ``deployment.environment`` on some rows); ``resource_fingerprint`` is read back from the store;
- bodies with ``%``, ``_``, ``\\``, quotes and non-ASCII text; trace/span ids on two rows in three.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filter_eval import row_matches
from logs_mcp.store.filters import LogFilters, resolve_range

# Recent (the store drops rows older than its retention), and on the hour so bucket edges are round.
FIXTURE_NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
FIXTURE_SIZE = 600
WINDOW = timedelta(days=5)

SERVICES = ("api", "web", "worker", "payments", "Checkout", "")
SERVICE_WEIGHTS = (30, 25, 20, 12, 8, 5)
SEVERITIES = ("trace", "debug", "info", "warn", "error", "fatal")
SEVERITY_WEIGHTS = (5, 15, 45, 18, 14, 3)
SEVERITY_NUMBERS = {"trace": 1, "debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}
STATUS_CODES = ("200", "201", "204", "301", "404", "429", "500", "503")
BODIES = (
    "GET /api/orders/{n} 200 in {ms}ms",
    "POST /api/checkout failed: card declined (order {n})",
    "disk usage at {n}% on /var/lib",
    "user_id={n} logged in",
    "loaded config from C:\\app\\config_{n}.ini",
    'retrying job "sync-{n}" after timeout',
    "Zahlung für Bestellung {n} abgeschlossen ✓",
    "connection reset by peer",
    "cache miss for key user:{n}:profile",
    "50% of 100_000 rows migrated",
)


@dataclass(frozen=True)
class Fixture:
    project_id: int
    now: datetime
    rows: list[dict[str, Any]]

    def matching(self, filters: LogFilters | dict[str, Any]) -> list[dict[str, Any]]:
        """The rows ``filters`` select at the fixture's ``now``, in no particular order. A dict may be a
        whole endpoint query: fields that are no filter (limit, orderBy …) are ignored."""
        parsed = filters if isinstance(filters, LogFilters) else only_filters(filters)
        time_from, time_to = resolve_range(parsed.date_range, self.now)
        return [row for row in self.rows if row_matches(row, self.project_id, parsed, time_from, time_to)]

    def count(self, filters: LogFilters | dict[str, Any]) -> int:
        return len(self.matching(filters))


def only_filters(query: dict[str, Any]) -> LogFilters:
    """The shared filters of an endpoint's ``query`` object."""
    names = {field.alias or name for name, field in LogFilters.model_fields.items()}
    return LogFilters.model_validate({key: value for key, value in query.items() if key in names})


def generate_rows(
    project_id: int, now: datetime = FIXTURE_NOW, size: int = FIXTURE_SIZE, seed: int = 7
) -> list[dict[str, Any]]:
    """The fixture's rows without ``resource_fingerprint`` (the store computes it)."""
    rng = random.Random(seed)
    stamps = _timestamps(rng, now, size)
    hosts = [f"host-{n}" for n in range(1, 5)]
    rows = []
    for index, timestamp in enumerate(stamps):
        service = rng.choices(SERVICES, SERVICE_WEIGHTS)[0]
        severity = rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0]
        resource = {"service.name": service, "k8s.namespace.name": rng.choice(("prod", "staging"))}
        resource["host.name"] = rng.choice(hosts)
        if index % 4 == 0:
            resource["deployment.environment"] = rng.choice(("production", "canary"))
        traced = index % 3 != 2
        rows.append(
            {
                "project_id": project_id,
                "uuid": UUID(int=rng.getrandbits(128), version=4),
                "timestamp": timestamp,
                "observed_timestamp": now,
                "trace_id": rng.randbytes(16) if traced else bytes(16),
                "span_id": rng.randbytes(8) if traced else bytes(8),
                "trace_flags": 1 if traced else 0,
                "severity_text": severity,
                "severity_number": SEVERITY_NUMBERS[severity],
                "service_name": service,
                "body": rng.choice(BODIES).format(n=rng.randint(1, 999), ms=rng.randint(1, 900)),
                "attributes": _attributes(rng, index),
                "resource_attributes": dict(sorted(resource.items())),
                "instrumentation_scope": "fixture@1.0" if index % 2 else "",
                "event_name": "http.request" if index % 5 == 0 else "",
            }
        )
    return rows


def _timestamps(rng: random.Random, now: datetime, size: int) -> list[datetime]:
    """A quarter in the last hour, the rest over the window; a few exact ties; one at ``now - 1h``."""
    recent = size // 4
    stamps = [now - timedelta(microseconds=rng.randrange(1, 3_600_000_000)) for _ in range(recent)]
    window_micros = int(WINDOW.total_seconds() * 1_000_000)
    stamps += [now - timedelta(microseconds=rng.randrange(1, window_micros)) for _ in range(size - recent)]
    for tie in range(1, min(size, 25), 6):  # groups of rows sharing one timestamp
        stamps[tie] = stamps[tie - 1]
    stamps[-1] = now - timedelta(hours=1)
    return stamps


def _attributes(rng: random.Random, index: int) -> dict[str, str]:
    attributes: dict[str, str] = {}
    if index % 10 != 9:
        attributes["http.status_code"] = rng.choice(STATUS_CODES)
        attributes["http.method"] = rng.choice(("GET", "GET", "POST", "PUT", "DELETE"))
    if index % 3 == 0:
        attributes["user.id"] = f"u-{rng.randint(1, 7)}"
    if index % 4 != 3:
        attributes["duration_ms"] = f"{rng.uniform(0.5, 2500):.1f}"
    if index % 7 == 0:
        attributes["feature.enabled"] = rng.choice(("true", "false"))
    return dict(sorted(attributes.items()))


def insert_fixture(
    store: LogStore, project_id: int, now: datetime = FIXTURE_NOW, size: int = FIXTURE_SIZE, seed: int = 7
) -> Fixture:
    """Store the fixture in ``project_id`` and return it with each row's ``resource_fingerprint``."""
    rows = generate_rows(project_id, now, size, seed)
    insert_rows(store, rows)
    fingerprints = dict(
        store.query(
            f"SELECT uuid, resource_fingerprint FROM {store.logs_table} WHERE project_id = {{p:UInt64}}",
            {"p": project_id},
        ).rows
    )
    for row in rows:
        row["resource_fingerprint"] = fingerprints[row["uuid"]]
    return Fixture(project_id, now, rows)


def insert_rows(store: LogStore, rows: Iterable[dict[str, Any]]) -> None:
    """Store rows shaped like the fixture's (``resource_fingerprint`` is ignored: it is materialized)."""
    rows = list(rows)
    names = [name for name in rows[0] if name != "resource_fingerprint"]
    columns = {name: [_column_value(row[name]) for row in rows] for name in names}
    store.insert_columns(store.logs_table, columns)


def _column_value(value: Any) -> Any:
    if isinstance(value, datetime):  # microseconds since the epoch, as the OTLP receiver inserts them
        return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return value
