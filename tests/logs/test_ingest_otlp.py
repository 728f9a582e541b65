"""OTLP/HTTP log ingestion: the SDK's own exporter against a real server, OTLP/JSON, the record → row
mapping of ``logs-query.md`` §1.4 rule by rule, and refusals that store nothing."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as ProtoResource
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from logs_mcp.errors import InvalidInput, PayloadTooLarge
from logs_mcp.logs.ingest import LogIngest
from logs_mcp.services import Services

if TYPE_CHECKING:
    from conftest import TestProject

HOUR_NS = 3600 * 10**9
SDK_RECORDS = 10_000
JSON_RECORDS = 2_000
NO_TRACE = bytes(16)
NO_SPAN = bytes(8)
ROW_FIELDS = (
    "timestamp",
    "observed_timestamp",
    "trace_id",
    "span_id",
    "trace_flags",
    "severity_text",
    "severity_number",
    "service_name",
    "body",
    "attributes",
    "resource_attributes",
    "instrumentation_scope",
    "event_name",
)


# ---------------------------------------------------------------------------------------------------
# Helpers


def stored_rows(services: Services, project_id: int) -> list[dict[str, Any]]:
    result = services.log_store.query(
        f"SELECT {', '.join(ROW_FIELDS)} FROM {services.log_store.logs_table} "
        "WHERE project_id = {project_id:UInt64}",
        {"project_id": project_id},
    )
    return result.dicts()


def stored_count(services: Services, project_id: int) -> int:
    result = services.log_store.query(
        f"SELECT count() FROM {services.log_store.logs_table} WHERE project_id = {{project_id:UInt64}}",
        {"project_id": project_id},
    )
    count: int = result.rows[0][0]
    return count


def by_sequence(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {int(row["attributes"]["seq"]): row for row in rows}


def micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def as_bytes(value: bytes | str) -> bytes:
    """FixedString columns may come back as bytes or as text, depending on the driver's settings."""
    return value if isinstance(value, bytes) else value.encode("latin-1")


def any_value(value: Any) -> AnyValue:
    if isinstance(value, AnyValue):
        return value
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(item) for item in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=key_values(value)))
    return AnyValue(string_value=value)


def key_values(attributes: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in attributes.items()]


def request_of(
    *records: LogRecord,
    resource: Mapping[str, Any] | None = None,
    scope: InstrumentationScope | None = None,
) -> ExportLogsServiceRequest:
    scope_logs = ScopeLogs(log_records=records)
    if scope is not None:
        scope_logs.scope.CopyFrom(scope)
    resource_attributes = {"service.name": "svc"} if resource is None else resource
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=ProtoResource(attributes=key_values(resource_attributes)), scope_logs=[scope_logs]
            )
        ]
    )


NOW_NS = 1_750_000_000_123_456_789
NOW_MICROS = NOW_NS // 1000


def rows_of(
    ingest: LogIngest, request: ExportLogsServiceRequest, now_ns: int = NOW_NS
) -> list[dict[str, Any]]:
    columns = ingest.to_columns(7, request, now_ns)
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def row_of(ingest: LogIngest, record: LogRecord, **request: Any) -> dict[str, Any]:
    (row,) = rows_of(ingest, request_of(record, **request))
    return row


@pytest.fixture
def ingest(services: Services) -> LogIngest:
    """A LogIngest on the shared store with a small body limit, so size refusals are cheap to provoke."""
    return LogIngest(services.log_store, max_request_bytes=1024)


# ---------------------------------------------------------------------------------------------------
# The OpenTelemetry SDK's own exporter against the running server


def sdk_record_fields(seq: int, now_ns: int) -> dict[str, Any]:
    """What record ``seq`` carries: every severity number in turn (0 = unset, named by text), a
    JSON-object body every tenth record, typed attributes, an event name, and a trace context."""
    number = seq % 25
    body: Any = {"level": "error", "seq": seq} if seq % 10 == 0 else f"request {seq} handled"
    return {
        "timestamp": now_ns - seq * 1_000_000,
        "severity_number": number,
        "severity_text": "Warning" if number == 0 else f"SEV{number}",
        "body": body,
        "attributes": {
            "seq": seq,
            "count": 42,
            "ok": True,
            "ratio": 1.5,
            "route": "/api/items/{id}",
            "tags": ["a", "b"],
        },
        "event_name": "http.request" if seq % 2 else "",
        "trace_id": seq + 1 if seq % 7 else 0,  # every seventh record outside a trace
        "span_id": seq + 1 if seq % 7 else 0,
    }


def expected_sdk_row(seq: int, now_ns: int) -> dict[str, Any]:
    fields = sdk_record_fields(seq, now_ns)
    number = fields["severity_number"]
    buckets = ("trace", "debug", "info", "warn", "error", "fatal")
    if number:
        severity = (buckets[(number - 1) // 4], number)
    else:
        severity = ("error", 17) if isinstance(fields["body"], dict) else ("warn", 13)
    traced = fields["trace_id"] != 0
    body = fields["body"]
    return {
        "timestamp": fields["timestamp"] // 1000,
        "severity_text": severity[0],
        "severity_number": severity[1],
        "body": json.dumps(body, separators=(",", ":")) if isinstance(body, dict) else body,
        "attributes": {
            "seq": str(seq),
            "count": "42",
            "ok": "true",
            "ratio": "1.5",
            "route": "/api/items/{id}",
            "tags": '["a","b"]',
        },
        "event_name": fields["event_name"],
        "trace_id": fields["trace_id"].to_bytes(16, "big") if traced else NO_TRACE,
        "span_id": fields["span_id"].to_bytes(8, "big") if traced else NO_SPAN,
        "trace_flags": 1,  # the SDK sends the context's flags even when it carries no valid trace
    }


def emit_with_sdk(endpoint: str, token: str, compression: Compression, count: int, now_ns: int) -> None:
    exporter = OTLPLogExporter(
        endpoint=endpoint, headers={"Authorization": f"Bearer {token}"}, compression=compression, timeout=30
    )
    provider = LoggerProvider(
        resource=Resource.create(
            {"service.name": "checkout", "deployment.environment": "test", "host.name": "node-1"}
        ),
        shutdown_on_exit=False,
    )
    # A queue as large as the test, so the processor never drops a record while the exporter works.
    provider.add_log_record_processor(
        BatchLogRecordProcessor(exporter, max_queue_size=count, max_export_batch_size=2_000)
    )
    logger = provider.get_logger("tests.otlp", "1.2.3")
    for seq in range(count):
        fields = sdk_record_fields(seq, now_ns)
        span = SpanContext(
            fields["trace_id"], fields["span_id"], is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)
        )
        logger.emit(
            timestamp=fields["timestamp"],
            context=trace.set_span_in_context(NonRecordingSpan(span)),
            severity_number=SeverityNumber(fields["severity_number"]),
            severity_text=fields["severity_text"],
            body=fields["body"],
            attributes=fields["attributes"],
            event_name=fields["event_name"] or None,
        )
    assert provider.force_flush(timeout_millis=60_000)
    provider.shutdown()


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip], ids=["plain", "gzip"])
def test_sdk_exporter_stores_every_record_with_its_fields(
    services: Services, server_url: str, project: TestProject, compression: Compression
) -> None:
    now_ns = time.time_ns()
    emit_with_sdk(f"{server_url}/v1/logs", project.ingestion_token, compression, SDK_RECORDS, now_ns)

    rows = by_sequence(stored_rows(services, project.id))
    assert len(rows) == SDK_RECORDS
    for seq in range(SDK_RECORDS):
        row = rows[seq]
        expected = expected_sdk_row(seq, now_ns)
        actual = {
            "timestamp": micros(row["timestamp"]),
            "severity_text": row["severity_text"],
            "severity_number": row["severity_number"],
            "body": row["body"],
            "attributes": row["attributes"],
            "event_name": row["event_name"],
            "trace_id": as_bytes(row["trace_id"]),
            "span_id": as_bytes(row["span_id"]),
            "trace_flags": row["trace_flags"],
        }
        assert actual == expected, f"record {seq}"
        assert row["service_name"] == "checkout"
        assert row["resource_attributes"]["deployment.environment"] == "test"
        assert row["resource_attributes"]["host.name"] == "node-1"
        assert row["resource_attributes"]["service.name"] == "checkout"
        assert row["instrumentation_scope"] == "tests.otlp@1.2.3"
        assert abs(micros(row["observed_timestamp"]) - now_ns // 1000) < 600 * 1_000_000


# ---------------------------------------------------------------------------------------------------
# OTLP/JSON (the SDK has no JSON exporter), hex ids, gzip or not


def json_document(count: int, now_ns: int) -> dict[str, Any]:
    records = [
        {
            "timeUnixNano": str(now_ns - seq * 1000),
            "severityText": "ERR" if seq % 3 == 0 else "debug",
            "body": {"stringValue": f"json record {seq}"},
            "traceId": f"{seq + 1:032x}",
            "spanId": f"{seq + 1:016x}",
            "flags": 1,
            "eventName": "json.event",
            "attributes": [
                {"key": "seq", "value": {"intValue": str(seq)}},
                {"key": "ok", "value": {"boolValue": False}},
                {"key": "ratio", "value": {"doubleValue": 0.25}},
                {"key": "raw", "value": {"bytesValue": "AQI="}},
                {
                    "key": "nested",
                    "value": {"kvlistValue": {"values": [{"key": "a", "value": {"intValue": "1"}}]}},
                },
            ],
        }
        for seq in range(count)
    ]
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
                "scopeLogs": [{"scope": {"name": "json.scope", "version": "0.1"}, "logRecords": records}],
            }
        ]
    }


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_otlp_json_is_stored_with_hex_ids(
    services: Services, server_url: str, project: TestProject, gzipped: bool
) -> None:
    now_ns = time.time_ns()
    body = json.dumps(json_document(JSON_RECORDS, now_ns)).encode()
    headers = {"Authorization": f"Bearer {project.ingestion_token}", "Content-Type": "application/json"}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"

    response = httpx.post(f"{server_url}/v1/logs", content=body, headers=headers, timeout=60)

    assert response.status_code == 200, response.text
    assert response.json() == {}
    rows = by_sequence(stored_rows(services, project.id))
    assert len(rows) == JSON_RECORDS
    for seq, row in rows.items():
        assert micros(row["timestamp"]) == (now_ns - seq * 1000) // 1000
        assert as_bytes(row["trace_id"]) == (seq + 1).to_bytes(16, "big")
        assert as_bytes(row["span_id"]) == (seq + 1).to_bytes(8, "big")
        assert row["trace_flags"] == 1
        assert (row["severity_text"], row["severity_number"]) == (
            ("error", 17) if seq % 3 == 0 else ("debug", 5)
        )
        assert row["body"] == f"json record {seq}"
        assert row["attributes"] == {
            "seq": str(seq),
            "ok": "false",
            "ratio": "0.25",
            "raw": '"AQI="',
            "nested": '{"a":1}',
        }
        assert row["service_name"] == "json-svc"
        assert row["instrumentation_scope"] == "json.scope@0.1"
        assert row["event_name"] == "json.event"


def test_token_may_come_as_query_parameter_and_the_header_wins(
    services: Services, server_url: str, project: TestProject
) -> None:
    body = request_of(LogRecord(body=any_value("by query"))).SerializeToString()
    protobuf = {"Content-Type": "application/x-protobuf"}

    by_query = httpx.post(
        f"{server_url}/v1/logs?token={project.ingestion_token}", content=body, headers=protobuf
    )
    header_wins = httpx.post(
        f"{server_url}/i/v1/logs?token=lmi_not-a-token",
        content=body,
        headers={**protobuf, "Authorization": f"Bearer {project.ingestion_token}"},
    )

    assert (by_query.status_code, header_wins.status_code) == (200, 200)
    assert by_query.content == b""
    assert by_query.headers["content-type"] == "application/x-protobuf"
    assert stored_count(services, project.id) == 2


# ---------------------------------------------------------------------------------------------------
# §1.4 mapping rules, one by one (pure: LogIngest.to_columns on built requests)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[(text, "fatal") for text in ("critical", "FATAL", "crit", "Alert", "emerg")],
        *[(text, "error") for text in ("error", "ERR", "eror")],
        *[(text, "warn") for text in ("warn", "WARNING", " warn ")],
        *[(text, "info") for text in ("info", "Information", "informational")],
        *[(text, "debug") for text in ("debug", "DBUG")],
        ("TRACE", "trace"),
        *[(text, "info") for text in ("", "notice", "verbose", "5")],
    ],
)
def test_severity_text_is_normalised(ingest: LogIngest, text: str, expected: str) -> None:
    numbers = {"trace": 1, "debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}
    row = row_of(ingest, LogRecord(severity_text=text, body=any_value("plain")))
    assert (row["severity_text"], row["severity_number"]) == (expected, numbers[expected])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"level": "ERROR"}', "error"),
        ('{"severity": "warning", "msg": "x"}', "warn"),
        ('{"log.level": "dbug"}', "debug"),
        ('{"config.log_level": "crit"}', "fatal"),
        ('{"level": "chatty", "severity": "trace"}', "trace"),  # the first key naming a known level wins
        ('{"level": 17}', "info"),  # not a string: the record's text stands
        ('{"level": "error"', "info"),  # not JSON
        ('["level", "error"]', "info"),  # JSON, but not an object
        ("level=error", "info"),
    ],
)
def test_level_in_a_json_body_overrides_the_text(ingest: LogIngest, body: str, expected: str) -> None:
    row = row_of(ingest, LogRecord(severity_text="info", body=any_value(body)))
    assert row["severity_text"] == expected


def test_level_in_a_structured_body_overrides_the_text(ingest: LogIngest) -> None:
    row = row_of(ingest, LogRecord(severity_text="info", body=any_value({"level": "warn", "n": 1})))
    assert (row["severity_text"], row["severity_number"], row["body"]) == (
        "warn",
        13,
        '{"level":"warn","n":1}',
    )


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1, "trace"), (4, "trace"), (5, "debug"), (8, "debug"), (9, "info"), (12, "info"),
        (13, "warn"), (16, "warn"), (17, "error"), (20, "error"), (21, "fatal"), (24, "fatal"),
        (25, "unknown"), (99, "unknown"),
    ],
)  # fmt: skip
def test_severity_number_wins_and_is_bucketed(ingest: LogIngest, number: int, expected: str) -> None:
    record = LogRecord(severity_number=number, severity_text="error", body=any_value('{"level": "debug"}'))
    row = row_of(ingest, record)
    assert (row["severity_text"], row["severity_number"]) == (expected, number)


@pytest.mark.parametrize(
    ("trace_id", "span_id", "expected_trace", "expected_span"),
    [
        (bytes(range(1, 17)), bytes(range(1, 9)), bytes(range(1, 17)), bytes(range(1, 9))),
        (b"", b"", NO_TRACE, NO_SPAN),
        (bytes(range(1, 16)), bytes(range(1, 8)), NO_TRACE, NO_SPAN),
        (bytes(range(1, 18)), bytes(range(1, 10)), NO_TRACE, NO_SPAN),
        (bytes(range(1, 17)), b"\x01", bytes(range(1, 17)), NO_SPAN),
    ],
    ids=["exact", "absent", "short", "long", "span-only-bad"],
)
def test_trace_and_span_ids_must_have_their_exact_length(
    ingest: LogIngest, trace_id: bytes, span_id: bytes, expected_trace: bytes, expected_span: bytes
) -> None:
    row = row_of(ingest, LogRecord(trace_id=trace_id, span_id=span_id, flags=1))
    assert (row["trace_id"], row["span_id"], row["trace_flags"]) == (expected_trace, expected_span, 1)


def test_a_zero_timestamp_reads_as_now(ingest: LogIngest) -> None:
    row = row_of(ingest, LogRecord(time_unix_nano=0))
    assert (row["timestamp"], row["observed_timestamp"]) == (NOW_MICROS, NOW_MICROS)
    assert "$originalTimestamp" not in row["attributes"]


@pytest.mark.parametrize("offset_ns", [-24 * HOUR_NS, -HOUR_NS, 0, 23 * HOUR_NS, 24 * HOUR_NS])
def test_a_timestamp_within_a_day_of_now_is_kept(ingest: LogIngest, offset_ns: int) -> None:
    row = row_of(ingest, LogRecord(time_unix_nano=NOW_NS + offset_ns, observed_time_unix_nano=1))
    assert row["timestamp"] == (NOW_NS + offset_ns) // 1000
    assert row["observed_timestamp"] == NOW_MICROS  # the sender's observed time is ignored
    assert "$originalTimestamp" not in row["attributes"]


@pytest.mark.parametrize(
    ("time_unix_nano", "original"),
    [
        (NOW_NS - 24 * HOUR_NS - 1, "2025-06-14T15:06:40.123456788Z"),
        (NOW_NS + 25 * HOUR_NS, "2025-06-16T16:06:40.123456789Z"),
        (1, "1970-01-01T00:00:00.000000001Z"),
    ],
)
def test_a_timestamp_skewed_past_a_day_becomes_now_and_keeps_the_original(
    ingest: LogIngest, time_unix_nano: int, original: str
) -> None:
    row = row_of(ingest, LogRecord(time_unix_nano=time_unix_nano, attributes=key_values({"a": "b"})))
    assert row["timestamp"] == NOW_MICROS
    assert row["attributes"] == {"a": "b", "$originalTimestamp": original}


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (InstrumentationScope(name="lib", version="1.0"), "lib@1.0"),
        (InstrumentationScope(name="lib"), "lib@"),
        (InstrumentationScope(), "@"),
        (None, ""),
    ],
    ids=["name-version", "name-only", "both-empty", "no-scope"],
)
def test_instrumentation_scope_text(
    ingest: LogIngest, scope: InstrumentationScope | None, expected: str
) -> None:
    assert row_of(ingest, LogRecord(), scope=scope)["instrumentation_scope"] == expected


def test_event_name_is_kept(ingest: LogIngest) -> None:
    assert row_of(ingest, LogRecord(event_name="user.login"))["event_name"] == "user.login"
    assert row_of(ingest, LogRecord())["event_name"] == ""


def test_resource_attributes_are_sorted_and_name_the_service(ingest: LogIngest) -> None:
    row = row_of(ingest, LogRecord(), resource={"zone": "b", "service.name": "api", "cores": 4})
    assert row["service_name"] == "api"
    assert list(row["resource_attributes"].items()) == [
        ("cores", "4"),
        ("service.name", "api"),
        ("zone", "b"),
    ]


def test_a_missing_service_name_is_empty(ingest: LogIngest) -> None:
    row = row_of(ingest, LogRecord(), resource={"host.name": "h"})
    assert row["service_name"] == ""
    assert row["resource_attributes"] == {"host.name": "h", "service.name": ""}


def test_each_resource_and_scope_keeps_its_own_records(ingest: LogIngest) -> None:
    request = request_of(
        LogRecord(body=any_value("a1")), LogRecord(body=any_value("a2")), resource={"service.name": "a"}
    )
    other = request_of(
        LogRecord(body=any_value("b1")), resource={"service.name": "b"}, scope=InstrumentationScope(name="s")
    )
    request.resource_logs.extend(other.resource_logs)
    rows = rows_of(ingest, request)
    assert [(row["body"], row["service_name"], row["instrumentation_scope"]) for row in rows] == [
        ("a1", "a", ""),
        ("a2", "a", ""),
        ("b1", "b", "s@"),
    ]
    assert [row["project_id"] for row in rows] == [7, 7, 7]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain text", "plain text"),
        ("", ""),
        (42, "42"),
        (-7, "-7"),
        (True, "true"),
        (False, "false"),
        (1.5, "1.5"),
        (1e20, "1e+20"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        (b"\x01\x02", '"AQI="'),
        ([1, "x", True, ["é"]], '[1,"x",true,["é"]]'),
        ({"a": 1, "b": {"c": "d"}}, '{"a":1,"b":{"c":"d"}}'),
        (AnyValue(), ""),
    ],
    ids=lambda value: type(value).__name__,
)
def test_values_are_stored_as_natural_text(ingest: LogIngest, value: Any, text: str) -> None:
    row = row_of(ingest, LogRecord(body=any_value(value), attributes=key_values({"v": value})))
    assert row["body"] == text
    assert row["attributes"] == {"v": text}


def test_a_missing_body_is_empty(ingest: LogIngest) -> None:
    assert row_of(ingest, LogRecord())["body"] == ""


# ---------------------------------------------------------------------------------------------------
# Decoding refusals (pure) and limits


def test_gzip_is_recognised_by_magic_bytes_without_a_header(ingest: LogIngest) -> None:
    raw = request_of(LogRecord(body=any_value("zipped"))).SerializeToString()
    decoded = ingest.decode(gzip.compress(raw), "application/x-protobuf", None)
    assert decoded.resource_logs[0].scope_logs[0].log_records[0].body.string_value == "zipped"


def test_a_decompressed_body_over_the_limit_is_refused(ingest: LogIngest) -> None:
    with pytest.raises(PayloadTooLarge):
        ingest.decode(gzip.compress(b"\x00" * 1025), "application/x-protobuf", "gzip")
    with pytest.raises(PayloadTooLarge):
        ingest.decode(b"\x0a" * 1025, "application/x-protobuf", None)
    assert ingest.decode(b"", "application/x-protobuf", None) == ExportLogsServiceRequest()


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "attr", "reason"),
    [
        (b"\xff\xff\xff\xff", "application/x-protobuf", None, "body", "protobuf"),
        (b'{"resourceLogs": [', "application/json", None, "body", "JSON"),
        (b'{"resourceLogs": "nope"}', "application/json", None, "body", "JSON"),
        (b"[1, 2]", "application/json", None, "body", "object"),
        (b"\x1f\x8bnot really gzip", None, None, "body", "gzip"),
        (gzip.compress(b"\x0a\x00" * 100)[:-12], None, "gzip", "body", "truncated"),
        (b"plain", "application/x-protobuf", "br", "body", "Content-Encoding"),
    ],
    ids=["protobuf", "json-syntax", "json-shape", "json-array", "gzip", "gzip-truncated", "encoding"],
)
def test_undecodable_bodies_are_refused_with_a_reason(
    ingest: LogIngest, body: bytes, content_type: str | None, encoding: str | None, attr: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        ingest.decode(body, content_type, encoding)
    assert refused.value.attr == attr
    assert reason in refused.value.detail


# ---------------------------------------------------------------------------------------------------
# Refusals through the server: the right status, the error body, and nothing stored


def one_json_record(**record: Any) -> bytes:
    return json.dumps(
        {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "ok"}}, record]}]}]}
    ).encode()


def gzip_bomb() -> bytes:
    return gzip.compress(b"\x00" * (5 * 1024 * 1024))


@dataclass(frozen=True)
class Refusal:
    body: bytes
    status: int
    code: str
    attr: str | None = "body"
    headers: Mapping[str, str] = field(default_factory=dict)
    token: str | None = "valid"  # "valid" stands for the project's own token


PROTOBUF = {"Content-Type": "application/x-protobuf"}
REFUSALS = {
    "no-token": Refusal(b"", 401, "not_authenticated", attr=None, token=None),
    "unknown-token": Refusal(b"", 401, "not_authenticated", attr=None, token="lmi_unknown"),
    "protobuf": Refusal(b"\x0a\xff\xff", 400, "invalid_input", headers=PROTOBUF),
    "json": Refusal(b"{not json", 400, "invalid_input", headers={"Content-Type": "application/json"}),
    "hex-trace-id": Refusal(one_json_record(traceId="zz" * 16), 400, "invalid_input", attr="traceId"),
    "hex-span-id": Refusal(one_json_record(spanId="12345"), 400, "invalid_input", attr="spanId"),
    "encoding": Refusal(b"\x0a\x00", 400, "invalid_input", headers={"Content-Encoding": "br"}),
    "gzip": Refusal(b"\x1f\x8b\x08\x00broken", 400, "invalid_input", headers={"Content-Encoding": "gzip"}),
    "over-4MiB-raw": Refusal(b"\x0a" * (4 * 1024 * 1024 + 1), 413, "payload_too_large"),
    "over-4MiB-unzipped": Refusal(
        gzip_bomb(), 413, "payload_too_large", headers={"Content-Encoding": "gzip"}
    ),
}


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
def test_refused_requests_store_nothing(
    services: Services, server_url: str, project: TestProject, refusal: Refusal
) -> None:
    token = project.ingestion_token if refusal.token == "valid" else refusal.token
    auth = {"Authorization": f"Bearer {token}"} if token else {}

    response = httpx.post(
        f"{server_url}/v1/logs", content=refusal.body, headers={**refusal.headers, **auth}, timeout=30
    )

    assert response.status_code == refusal.status, response.text
    error = response.json()
    assert set(error) == {"type", "code", "detail", "attr"}
    assert (error["code"], error["attr"]) == (refusal.code, refusal.attr)
    assert error["detail"]
    assert stored_count(services, project.id) == 0
