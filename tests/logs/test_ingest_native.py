"""The native OTLP protobuf path (ClickHouse maps the request, ``store/otlp_native.py``) against the
Python path (``LogIngest.to_columns``, the reference): every §1.4 case of ``test_ingest_otlp.py`` and
generated random batches go through both, and the stored rows must agree field by field, map order
included. Requests the view cannot map exactly must be refused by it with nothing stored, and then be
stored by the Python path."""

from __future__ import annotations

import itertools
import json
import math
import random
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as ProtoResource
from test_ingest_otlp import HOUR_NS, ROW_FIELDS, any_value, key_values, request_of

from logs_mcp.logs import ingest as ingest_module
from logs_mcp.logs.ingest import LogIngest
from logs_mcp.services import Services
from logs_mcp.store import otlp_native
from logs_mcp.store.log_schema import ATTRIBUTES_TABLE, MINUTE_COUNTS_TABLE

SKEW_NS = 24 * HOUR_NS
# Now, for both paths: rows far older than the store's retention would be dropped as they are stored.
NOW_NS = time.time_ns()
project_ids = itertools.count(9_000_000)


def rows_in(services: Services, project_id: int) -> list[tuple[Any, ...]]:
    """The stored rows of a project, maps as ordered item lists, in a stable order."""
    rows = services.log_store.query(
        f"SELECT {', '.join(ROW_FIELDS)} FROM {services.log_store.logs_table} "
        "WHERE project_id = {project_id:UInt64}",
        {"project_id": project_id},
    ).rows
    ordered = [
        tuple(list(value.items()) if isinstance(value, dict) else value for value in row) for row in rows
    ]
    return sorted(ordered, key=repr)


def ingest_both(services: Services, request: ExportLogsServiceRequest, *, native: bool) -> None:
    """Stores ``request`` through both paths (same clock) and compares what they stored; ``native``
    says whether the view must map it itself or refuse it for the Python path."""
    raw = request.SerializeToString()
    native_project, python_project = next(project_ids), next(project_ids)
    store = services.log_store

    assert otlp_native.insert_request(store, raw, native_project, NOW_NS, SKEW_NS) is native
    if not native:
        assert rows_in(services, native_project) == []  # refused whole
        # What LogIngest does with it: the view refuses, the Python path stores.
        LogIngest(store, 4 << 20, native_min_records=0, clock=lambda: NOW_NS).ingest(
            native_project, raw, "application/x-protobuf"
        )
    LogIngest(store, 4 << 20, native_protobuf=False, clock=lambda: NOW_NS).ingest(
        python_project, raw, "application/x-protobuf"
    )

    native_rows, python_rows = rows_in(services, native_project), rows_in(services, python_project)
    assert len(native_rows) == len(python_rows) > 0
    for native_row, python_row in zip(native_rows, python_rows, strict=True):
        for name, native_value, python_value in zip(ROW_FIELDS, native_row, python_row, strict=True):
            assert native_value == python_value, name
    assert rollup_of(services, native_project) == rollup_of(services, python_project)
    native_minutes = minute_counts_of(services, native_project)
    assert native_minutes == minute_counts_of(services, python_project)
    assert sum(row[-1] for row in native_minutes) == len(native_rows)


def minute_counts_of(services: Services, project_id: int) -> list[tuple[Any, ...]]:
    """The per-minute counts of a project, which the logs table's view keeps for both paths' inserts."""
    table = services.log_store.target.table(MINUTE_COUNTS_TABLE)
    return services.log_store.query(
        f"SELECT timestamp, service_name, severity_text, sum(rows) FROM {table} "
        "WHERE project_id = {project_id:UInt64} GROUP BY ALL ORDER BY ALL",
        {"project_id": project_id},
    ).rows


def rollup_of(services: Services, project_id: int) -> list[tuple[Any, ...]]:
    """The attribute rollup rows of a project: the logs table's views run for both paths' inserts."""
    table = services.log_store.target.table(ATTRIBUTES_TABLE)
    return services.log_store.query(
        "SELECT attribute_type, attribute_key, time_bucket, attribute_value, service_name, severity_text, "
        f"sum(attribute_count) FROM {table} WHERE project_id = {{project_id:UInt64}} "
        "GROUP BY ALL ORDER BY ALL",
        {"project_id": project_id},
    ).rows


def test_small_requests_take_the_python_path(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """Below ``native_min_records`` the view's fixed cost outweighs what it saves: it is not asked."""
    sizes: list[int] = []
    real_insert = otlp_native.insert_request

    def counted_insert(store: Any, request: bytes, *args: Any) -> bool:
        sizes.append(
            len(ExportLogsServiceRequest.FromString(request).resource_logs[0].scope_logs[0].log_records)
        )
        return real_insert(store, request, *args)

    monkeypatch.setattr(otlp_native, "insert_request", counted_insert)
    project = next(project_ids)
    ingest = LogIngest(services.log_store, 4 << 20, native_min_records=2, clock=lambda: NOW_NS)
    ingest.ingest(project, request_of(LogRecord(body=any_value("one"))).SerializeToString())
    ingest.ingest(project, request_of(*[LogRecord(body=any_value("two"))] * 2).SerializeToString())

    assert sizes == [2]
    assert len(rows_in(services, project)) == 3


def one(record: LogRecord, **request: Any) -> ExportLogsServiceRequest:
    return request_of(record, **request)


# ---------------------------------------------------------------------------------------------------
# The §1.4 cases of test_ingest_otlp.py, mapped by the view


SEVERITY_TEXTS = [
    "critical", "FATAL", "crit", "Alert", "emerg", "error", "ERR", "eror", "warn", "WARNING", " warn ",
    "info", "Information", "informational", "debug", "DBUG", "TRACE", "", "notice", "verbose", "5",
    "\twarn\x0b", "\x1cerror\x1f",
]  # fmt: skip
JSON_BODIES = [
    '{"level": "ERROR"}',
    '{"severity": "warning", "msg": "x"}',
    '{"log.level": "dbug"}',
    '{"config.log_level": "crit"}',
    '{"level": "chatty", "severity": "trace"}',
    '{"level": 17}',
    '["level", "error"]',
    "level=error",
    '{"msg": "no level here"}',
    '{"level": " Warning "}',
    "{not json at all}",
    '{"nested": {"level": "fatal"}}',
]
VALUES = [
    "plain text", "", 42, -7, 0, True, False, 1.5, 0.0, -0.0, 100.0, 1e15, 9999999999999998.0, 0.0001,
    -2.5, 123.456, b"\x01\x02", b"", AnyValue(),
]  # fmt: skip


def mapped_cases() -> Iterator[tuple[str, ExportLogsServiceRequest]]:
    for text in SEVERITY_TEXTS:
        yield f"severity text {text!r}", one(LogRecord(severity_text=text, body=any_value("plain")))
    for body in JSON_BODIES:
        yield f"json body {body!r}", one(LogRecord(severity_text="info", body=any_value(body)))
    for number in (1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 99, 255, -3):
        record = LogRecord(
            severity_number=number, severity_text="error", body=any_value('{"level": "debug"}')
        )
        yield f"severity number {number}", one(record)
    ids = [
        (bytes(range(1, 17)), bytes(range(1, 9))),
        (b"", b""),
        (bytes(range(1, 16)), bytes(range(1, 8))),
        (bytes(range(1, 18)), bytes(range(1, 10))),
        (bytes(range(1, 17)), b"\x01"),
    ]
    for trace_id, span_id in ids:
        yield (
            f"ids {len(trace_id)}/{len(span_id)}",
            one(LogRecord(trace_id=trace_id, span_id=span_id, flags=1)),
        )
    yield "zero timestamp", one(LogRecord(time_unix_nano=0))
    for offset in (-24 * HOUR_NS, -HOUR_NS, 0, 23 * HOUR_NS, 24 * HOUR_NS):
        yield f"timestamp {offset}", one(LogRecord(time_unix_nano=NOW_NS + offset, observed_time_unix_nano=1))
    for skewed in (NOW_NS - 24 * HOUR_NS - 1, NOW_NS + 25 * HOUR_NS, 1, 4_102_444_800_123_456_789):
        yield f"skewed {skewed}", one(LogRecord(time_unix_nano=skewed, attributes=key_values({"a": "b"})))
    scopes = [
        InstrumentationScope(name="lib", version="1.0"),
        InstrumentationScope(name="lib"),
        InstrumentationScope(),
    ]
    for scope in [*scopes, None]:
        yield f"scope {scope}", one(LogRecord(), scope=scope)
    yield "event name", one(LogRecord(event_name="user.login"))
    yield "resource sorted", one(LogRecord(), resource={"zone": "b", "service.name": "api", "cores": 4})
    yield "no service name", one(LogRecord(), resource={"host.name": "h"})
    yield "no resource attributes", one(LogRecord(), resource={})
    yield "numeric service name", one(LogRecord(), resource={"service.name": 7})
    for value in VALUES:
        yield f"value {value!r}", one(LogRecord(body=any_value(value), attributes=key_values({"v": value})))
    yield "missing body", one(LogRecord())
    two = request_of(
        LogRecord(body=any_value("a1")), LogRecord(body=any_value("a2")), resource={"service.name": "a"}
    )
    two.resource_logs.extend(
        request_of(
            LogRecord(body=any_value("b1")),
            resource={"service.name": "b"},
            scope=InstrumentationScope(name="s"),
        ).resource_logs
    )
    yield "two resources", two
    yield (
        "empty scope logs beside others",
        ExportLogsServiceRequest(
            resource_logs=[
                ResourceLogs(
                    scope_logs=[ScopeLogs(), ScopeLogs(log_records=[LogRecord(body=any_value("x"))])]
                )
            ]
        ),
    )
    yield "unicode text", one(LogRecord(body=any_value("héllo ✓"), attributes=key_values({"clé": "välue"})))


@pytest.mark.parametrize(("name", "request_"), list(mapped_cases()), ids=lambda value: str(value)[:60])
def test_the_view_maps_each_case_as_python_does(services: Services, name: str, request_: Any) -> None:
    ingest_both(services, request_, native=True)


# ---------------------------------------------------------------------------------------------------
# What only the Python path maps exactly: the view refuses it whole, LogIngest falls back


def python_cases() -> Iterator[tuple[str, ExportLogsServiceRequest]]:
    for value in (
        [1, "x", True, ["é"]],
        {"a": 1, "b": {"c": "d"}},
        float("nan"),
        float("-inf"),
        1e20,
        1e-5,
        5e-324,
    ):
        yield f"attribute {value!r}", one(LogRecord(attributes=key_values({"v": value, "s": "x"})))
        yield f"body {value!r}", one(LogRecord(body=any_value(value)))
        yield f"resource {value!r}", one(LogRecord(), resource={"service.name": "svc", "v": value})
    yield (
        "structured body level",
        one(LogRecord(severity_text="info", body=any_value({"level": "warn", "n": 1}))),
    )
    repeated = [
        KeyValue(key="k", value=AnyValue(string_value="first")),
        KeyValue(key="j", value=AnyValue(int_value=1)),
        KeyValue(key="k", value=AnyValue(string_value="last")),
    ]
    yield "repeated attribute key", one(LogRecord(attributes=repeated))
    yield (
        "repeated resource key",
        ExportLogsServiceRequest(
            resource_logs=[
                ResourceLogs(
                    resource=ProtoResource(attributes=repeated),
                    scope_logs=[ScopeLogs(log_records=[LogRecord()])],
                )
            ]
        ),
    )
    yield (
        "own $originalTimestamp replaced",
        one(LogRecord(time_unix_nano=1, attributes=key_values({"$originalTimestamp": "mine", "z": "1"}))),
    )
    yield "unicode space around the text", one(LogRecord(severity_text="\u00a0error\u3000"))
    yield "level behind a unicode space", one(LogRecord(body=any_value('{"level": "\u2003warn"}')))
    yield "not json, naming a level", one(LogRecord(body=any_value('{"level": "error"')))
    yield "json python reads, not clickhouse", one(LogRecord(body=any_value('{"level": "error", "x": NaN}')))
    yield "escaped key", one(LogRecord(body=any_value('{"lev\\u0065l": "error"}')))
    yield "repeated json key", one(LogRecord(body=any_value('{"level": "error", "level": "debug"}')))
    yield "original time past 2299", one(LogRecord(time_unix_nano=2**64 - 1))


@pytest.mark.parametrize(("name", "request_"), list(python_cases()), ids=lambda value: str(value)[:60])
def test_what_the_view_cannot_map_goes_to_python_whole(services: Services, name: str, request_: Any) -> None:
    mapped = request_of(LogRecord(body=any_value("mappable beside it")))
    request_.resource_logs.extend(mapped.resource_logs)  # one unmappable value sends the whole request
    ingest_both(services, request_, native=False)


# ---------------------------------------------------------------------------------------------------
# Generated batches


def random_double(rng: random.Random) -> float:
    """Doubles the view writes itself (0 and 1e-4 <= |x| < 1e16), from all over that range's bits."""
    while True:
        if rng.random() < 0.5:
            value: float = struct.unpack("<d", rng.randbytes(8))[0]
        else:
            value = rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-9, 9)
        if value == 0 or (math.isfinite(value) and 1e-4 <= abs(value) < 1e16):
            return value


def random_value(rng: random.Random) -> Any:
    kind = rng.randrange(7)
    if kind == 0:
        return rng.choice(["", "x", "héllo", '{"level": "warn"}', "  ERROR ", "0", "true"])
    if kind == 1:
        return rng.randint(-(2**63), 2**63 - 1)
    if kind == 2:
        return rng.random() < 0.5
    if kind == 3:
        return round(random_double(rng), rng.randint(0, 17))
    if kind == 4:
        return random_double(rng)
    if kind == 5:
        return rng.randbytes(rng.randrange(12))
    return AnyValue()


def random_record(rng: random.Random, seq: int) -> LogRecord:
    level = rng.choice(["level", "severity", "log.level", "config.log_level", "lvl"])
    body = rng.choice([
        f"message {seq}",
        json.dumps({level: rng.choice(["warn", "ERROR", "nope", " info "]), "seq": seq}),
        json.dumps({"seq": seq}),
        random_value(rng),
    ])  # fmt: skip
    time_unix_nano = rng.choice(
        [0, NOW_NS - rng.randrange(SKEW_NS), NOW_NS + rng.randrange(SKEW_NS), rng.randrange(1, NOW_NS)]
    )
    attributes = {f"k{index}": random_value(rng) for index in rng.sample(range(12), rng.randrange(7))}
    return LogRecord(
        time_unix_nano=time_unix_nano,
        severity_number=rng.choice([0, 0, 0, rng.randint(1, 30)]),
        severity_text=rng.choice(["", "INFO", "warning", "Err", "fatal", "other", " debug"]),
        body=any_value(body),
        attributes=key_values({"seq": seq, **attributes}),
        flags=rng.randrange(2**32),
        trace_id=rng.randbytes(rng.choice([16, 16, 0, 15])),
        span_id=rng.randbytes(rng.choice([8, 8, 0, 9])),
        event_name=rng.choice(["", "e", "http.request"]),
    )


def random_request(seed: int, records: int) -> ExportLogsServiceRequest:
    rng = random.Random(seed)
    resource_logs = []
    for resource_index in range(4):
        resource = {"host.name": f"h{resource_index}", "z.last": rng.random(), "a.first": rng.randint(0, 9)}
        if resource_index % 2:
            resource["service.name"] = f"svc-{resource_index}"
        scope_logs = []
        for scope_index in range(2):
            scope = InstrumentationScope(name=f"s{scope_index}", version="1") if scope_index else None
            sequences = range(
                resource_index * records // 4 + scope_index, (resource_index + 1) * records // 4, 2
            )
            scope_logs.append(
                request_of(*(random_record(rng, seq) for seq in sequences), scope=scope)
                .resource_logs[0]
                .scope_logs[0]
            )
        resource_logs.append(
            ResourceLogs(resource=ProtoResource(attributes=key_values(resource)), scope_logs=scope_logs)
        )
    return ExportLogsServiceRequest(resource_logs=resource_logs)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_random_batch_is_stored_alike(services: Services, seed: int) -> None:
    ingest_both(services, random_request(seed, 2_000), native=True)


def test_doubles_are_written_as_python_writes_them(services: Services) -> None:
    rng = random.Random(7)
    values = {f"d{index}": random_double(rng) for index in range(5_000)}
    ingest_both(services, one(LogRecord(attributes=key_values(values))), native=True)


# ---------------------------------------------------------------------------------------------------
# Joint inserts: requests that wait for the writer are inserted together


def test_waiting_requests_are_stored_in_one_insert_each_with_its_own_answer(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a first request holds the only writer, three more wait; they then go in as one insert. One
    of them needs the Python path, so the joint insert fails whole and each is inserted again alone: the
    view stores two, refuses the third, and LogIngest stores that one by the Python path."""
    first_entered, release_first = threading.Event(), threading.Event()
    real_insert, real_joint = otlp_native.insert_request, otlp_native.insert_requests
    joint_sizes: list[int] = []

    def held_insert(*args: Any) -> bool:
        if not first_entered.is_set():
            first_entered.set()
            release_first.wait(timeout=30)
        return real_insert(*args)

    def counted_joint(store: Any, messages: Any, *args: Any) -> None:
        joint_sizes.append(len(messages))
        real_joint(store, messages, *args)

    monkeypatch.setattr(otlp_native, "insert_request", held_insert)
    monkeypatch.setattr(otlp_native, "insert_requests", counted_joint)
    monkeypatch.setattr(ingest_module, "INSERT_WRITERS", 1)
    ingest = LogIngest(services.log_store, 4 << 20, native_min_records=0, clock=lambda: NOW_NS)
    needs_python = LogRecord(body=any_value("c"), attributes=key_values({"list": [1, 2]}))
    bodies = {"a": [LogRecord(body=any_value("a"))] * 3, "b": [LogRecord(body=any_value("b"))] * 2,
              "c": [needs_python], "d": [LogRecord(body=any_value("d"))]}  # fmt: skip
    projects = {name: next(project_ids) for name in bodies}
    answers: dict[str, int] = {}

    def send(name: str) -> None:
        answers[name] = ingest.ingest(projects[name], request_of(*bodies[name]).SerializeToString())

    threads = {name: threading.Thread(target=send, args=(name,)) for name in bodies}
    threads["a"].start()
    assert first_entered.wait(timeout=30)
    for name in "bcd":
        threads[name].start()
    while ingest._native.waiting < 3:  # queued behind the held writer
        time.sleep(0.01)
    release_first.set()
    for thread in threads.values():
        thread.join(timeout=60)

    assert joint_sizes == [3]
    assert answers == {name: len(records) for name, records in bodies.items()}
    body, attributes = ROW_FIELDS.index("body"), ROW_FIELDS.index("attributes")
    for name, records in bodies.items():
        assert [row[body] for row in rows_in(services, projects[name])] == [name] * len(records)
    assert ("list", "[1,2]") in rows_in(services, projects["c"])[0][attributes]


def test_a_joint_insert_stores_each_request_under_its_own_project(services: Services) -> None:
    """Several messages in one insert: each row of the staging table carries its own envelope."""
    projects = [next(project_ids) for _ in range(3)]
    messages = [
        request_of(*[LogRecord(body=any_value(f"p{index}"))] * (index + 1)).SerializeToString()
        + otlp_native.envelope(project, NOW_NS, SKEW_NS)
        for index, project in enumerate(projects)
    ]
    otlp_native.insert_requests(services.log_store, messages)

    for index, project in enumerate(projects):
        bodies = [row[ROW_FIELDS.index("body")] for row in rows_in(services, project)]
        assert bodies == [f"p{index}"] * (index + 1)
