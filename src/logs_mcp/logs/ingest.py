"""OTLP/HTTP log ingestion: decode an ExportLogsServiceRequest (protobuf or JSON, gzip or not) and store
its records in one insert, mapped as ``logs-query.md`` §1.4 says.

Two paths, one mapping. Large protobuf requests go to ClickHouse as they are, for a materialized view
to map (``store/otlp_native.py``: no Python loop over the records); JSON requests, small ones, and the
rare ones the view cannot map exactly are mapped here (``to_columns``) and inserted as columns. This Python
mapping is the reference the native one is tested against, field by field."""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from logs_mcp.errors import InvalidInput, PayloadTooLarge
from logs_mcp.logs.group_commit import GroupCommit
from logs_mcp.store import otlp_native
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.otlp_native import BODY_LEVEL_KEYS, SEVERITY_ALIASES
from logs_mcp.store.otlp_native import SEVERITY_NUMBERS as SEVERITY_NUMBERS  # used by the demo generator

GZIP_MAGIC = b"\x1f\x8b"
NO_TRACE = bytes(16)
NO_SPAN = bytes(8)
NANOS_PER_MICRO = 1000
NANOS_PER_HOUR = 3600 * 10**9
# The native path costs ClickHouse ~0.1 s of query analysis per insert and little per record, the Python
# path ~0.035 ms per record: below this many records a request is cheaper in Python (measured crossing
# between 5,000 and 15,000 records a request, see docs/benchmarks.md; the Collector sends 8,192).
NATIVE_MIN_RECORDS = 8_000
# Inserts running at once, per path; requests arriving while they run are inserted together next
# (``group_commit``), up to this many records in one insert.
INSERT_WRITERS = 2
MAX_JOINT_RECORDS = 64_000

# The columns one insert writes (the rest have defaults or are materialized), shared with the native path.
COLUMNS = otlp_native.ROW_COLUMNS
Columns = dict[str, list[Any]]
# A protobuf request for the native path: its bytes, project id, ingest time and allowed skew (ns).
NativeRequest = tuple[bytes, int, int, int]


SEVERITY_BY_NUMBER = ("unknown", *[name for name in SEVERITY_NUMBERS for _ in range(4)])


def severity_from_number(number: int) -> str:
    """OTel severity numbers come in blocks of four: 1–4 trace … 21–24 fatal."""
    return SEVERITY_BY_NUMBER[number] if 1 <= number <= 24 else "unknown"


def normalise_severity(text: str, body: str) -> str:
    """A level named in a JSON body wins over the record's text; anything unknown reads as info."""
    from_body = _level_in_json_body(body) if body.startswith("{") else None
    if from_body:
        return from_body
    return SEVERITY_ALIASES.get(text.strip().lower(), "info")


def _level_in_json_body(body: str) -> str | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    for key in BODY_LEVEL_KEYS:
        value = parsed.get(key)
        if isinstance(value, str) and value.strip().lower() in SEVERITY_ALIASES:
            return SEVERITY_ALIASES[value.strip().lower()]
    return None


def any_value_text(value: AnyValue) -> str:
    """The natural text of an attribute value: strings as they are, "42", "true", JSON for lists/maps."""
    text: str = value.string_value
    if text:  # the common case, answered without asking which field of the oneof is set
        return text
    kind = value.WhichOneof("value")
    if kind == "int_value":
        return str(value.int_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "double_value" and math.isfinite(value.double_value):
        return repr(value.double_value)  # what json.dumps writes for a finite float
    if kind is None or kind == "string_value":
        return ""
    return json.dumps(_any_value_python(value), separators=(",", ":"), ensure_ascii=False)


def _any_value_python(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind == "array_value":
        return [_any_value_python(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: _any_value_python(item.value) for item in value.kvlist_value.values}
    if kind == "string_value":
        return value.string_value
    return None


def attributes_text(attributes: Iterable[KeyValue]) -> dict[str, str]:
    return {item.key: any_value_text(item.value) for item in attributes}


def scope_text(scope: InstrumentationScope | None) -> str:
    return "" if scope is None else f"{scope.name}@{scope.version}"


class LogIngest:
    def __init__(
        self,
        store: LogStore,
        max_request_bytes: int,
        max_timestamp_skew_hours: float = 24,
        native_protobuf: bool = True,
        native_min_records: int = NATIVE_MIN_RECORDS,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._store = store
        self._clock = clock
        self._max_bytes = max_request_bytes
        self._max_skew_nanos = int(max_timestamp_skew_hours * NANOS_PER_HOUR)
        self._native_protobuf = native_protobuf
        self._native_min_records = native_min_records
        joint = {"writers": INSERT_WRITERS, "max_size": MAX_JOINT_RECORDS}
        self._native: GroupCommit[NativeRequest, bool] = GroupCommit(
            self._insert_native, self._insert_native_together, **joint
        )
        self._columnar: GroupCommit[Columns, None] = GroupCommit(
            self._insert_columns, self._insert_columns_together, **joint
        )

    def ingest(
        self,
        project_id: int,
        body: bytes,
        content_type: str | None = None,
        content_encoding: str | None = None,
    ) -> int:
        """Decode and store one OTLP request; returns how many records were stored (all or none)."""
        raw = self._decompress(body, content_encoding)
        is_json = _looks_like_json(raw, content_type)
        # Protobuf is parsed here too, though the native path reads the bytes again: it refuses exactly
        # what the Python path refuses (invalid UTF-8 included), and counts the records, for a tenth of
        # the native path's time.
        request = _decode_json(raw) if is_json else _decode_protobuf(raw)
        count = sum(len(scopes.log_records) for logs in request.resource_logs for scopes in logs.scope_logs)
        if not count:
            return 0
        now_ns = self._clock()
        native = not is_json and self._native_protobuf and count >= self._native_min_records
        if native and self._native.insert((raw, project_id, now_ns, self._max_skew_nanos), count):
            return count
        self._columnar.insert(self.to_columns(project_id, request, now_ns), count)
        return count

    def _insert_native(self, request: NativeRequest) -> bool:
        return otlp_native.insert_request(self._store, *request)

    def _insert_native_together(self, requests: Sequence[NativeRequest]) -> bool:
        messages = [raw + otlp_native.envelope(*request) for raw, *request in requests]
        otlp_native.insert_requests(self._store, messages)
        return True

    def _insert_columns(self, columns: Columns) -> None:
        self._store.insert_columns(self._store.logs_table, columns)

    def _insert_columns_together(self, batches: Sequence[Columns]) -> None:
        self._insert_columns(
            {name: list(itertools.chain.from_iterable(batch[name] for batch in batches)) for name in COLUMNS}
        )

    def decode(
        self, body: bytes, content_type: str | None, content_encoding: str | None
    ) -> ExportLogsServiceRequest:
        raw = self._decompress(body, content_encoding)
        return _decode_json(raw) if _looks_like_json(raw, content_type) else _decode_protobuf(raw)

    def _decompress(self, body: bytes, content_encoding: str | None) -> bytes:
        encoding = (content_encoding or "").strip().lower()
        if encoding == "gzip" or body.startswith(GZIP_MAGIC):
            inflater = zlib.decompressobj(wbits=31)
            try:
                raw = inflater.decompress(body, self._max_bytes + 1)
            except zlib.error as error:
                raise InvalidInput(f"The body is not valid gzip: {error}", attr="body") from None
            # A stream cut short inflates without error; only an oversize body may stop before its end.
            if not inflater.eof and len(raw) <= self._max_bytes:
                raise InvalidInput("The gzip body is truncated.", attr="body")
        elif encoding in ("", "identity"):
            raw = body
        else:
            raise InvalidInput(f"Unsupported Content-Encoding '{encoding}'; use gzip or none.", attr="body")
        if len(raw) > self._max_bytes:
            raise PayloadTooLarge(f"The decompressed body exceeds {self._max_bytes} bytes.", attr="body")
        return raw

    def to_columns(
        self, project_id: int, request: ExportLogsServiceRequest, now_ns: int
    ) -> dict[str, list[Any]]:
        """The request as insert-ready columns. Built a column at a time over each scope's records:
        this loop runs for every ingested record, so it is written for speed."""
        columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
        for resource_logs in request.resource_logs:
            resource = dict(sorted(attributes_text(resource_logs.resource.attributes).items()))
            resource.setdefault("service.name", "")
            for scope_logs in resource_logs.scope_logs:
                records = scope_logs.log_records
                if not records:
                    continue
                self._add_records(columns, records, now_ns)
                scope = scope_text(scope_logs.scope if scope_logs.HasField("scope") else None)
                columns["resource_attributes"] += [resource] * len(records)
                columns["service_name"] += [resource["service.name"]] * len(records)
                columns["instrumentation_scope"] += [scope] * len(records)
        count = len(columns["timestamp"])
        columns["project_id"] = [project_id] * count
        columns["observed_timestamp"] = [now_ns // NANOS_PER_MICRO] * count
        return columns

    def _add_records(self, columns: dict[str, list[Any]], records: Sequence[LogRecord], now_ns: int) -> None:
        bodies = [any_value_text(record.body) for record in records]
        attributes = [attributes_text(record.attributes) for record in records]
        columns["body"] += bodies
        columns["attributes"] += attributes
        columns["timestamp"] += self._timestamps(records, attributes, now_ns)
        severity_texts = columns["severity_text"]
        severity_numbers = columns["severity_number"]
        for record, body in zip(records, bodies, strict=True):
            number = record.severity_number
            if number > 0:
                severity_texts.append(severity_from_number(number))
                severity_numbers.append(number)
            else:
                text = normalise_severity(record.severity_text, body)
                severity_texts.append(text)
                severity_numbers.append(SEVERITY_NUMBERS[text])
        columns["trace_id"] += _exact_ids([record.trace_id for record in records], NO_TRACE)
        columns["span_id"] += _exact_ids([record.span_id for record in records], NO_SPAN)
        columns["trace_flags"] += [record.flags for record in records]
        columns["event_name"] += [record.event_name for record in records]

    def _timestamps(
        self, records: Sequence[LogRecord], attributes: list[dict[str, str]], now_ns: int
    ) -> list[int]:
        """Microseconds since the epoch; a missing time or one too far from now is replaced by now, and
        a replaced time is kept in the ``$originalTimestamp`` attribute."""
        now_micros = now_ns // NANOS_PER_MICRO
        earliest, latest = max(1, now_ns - self._max_skew_nanos), now_ns + self._max_skew_nanos
        timestamps = []
        for record, record_attributes in zip(records, attributes, strict=True):
            time_unix_nano = record.time_unix_nano
            if earliest <= time_unix_nano <= latest:
                timestamps.append(time_unix_nano // NANOS_PER_MICRO)
                continue
            if time_unix_nano:
                record_attributes["$originalTimestamp"] = _rfc3339(time_unix_nano)
            timestamps.append(now_micros)
        return timestamps


def _exact_ids(ids: list[bytes], zeros: bytes) -> list[bytes]:
    """An id of any other length than the all-zeros one (absent included) reads as all zeros."""
    return [value if len(value) == len(zeros) else zeros for value in ids]


def _rfc3339(time_unix_nano: int) -> str:
    seconds, nanos = divmod(time_unix_nano, 10**9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def _looks_like_json(raw: bytes, content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/json":
        return True
    if media in ("application/x-protobuf", "application/protobuf"):
        return False
    return raw.lstrip()[:1] in (b"{", b"[")


def _decode_protobuf(raw: bytes) -> ExportLogsServiceRequest:
    try:
        request: ExportLogsServiceRequest = ExportLogsServiceRequest.FromString(raw)
        return request
    except DecodeError as error:
        raise InvalidInput(f"Failed to decode the body as OTLP protobuf: {error}", attr="body") from None


def _decode_json(raw: bytes) -> ExportLogsServiceRequest:
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise InvalidInput(f"Failed to decode the body as OTLP/JSON: {error}", attr="body") from None
    if not isinstance(document, dict):
        raise InvalidInput("The OTLP/JSON body must be an object with resourceLogs.", attr="body")
    _hex_ids_to_base64(document)
    request = ExportLogsServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except json_format.ParseError as error:
        raise InvalidInput(f"Failed to decode the body as OTLP/JSON: {error}", attr="body") from None
    return request


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """OTLP/JSON carries trace and span ids as hex, while protobuf's JSON parser expects base64."""
    for resource_logs in _dicts(document.get("resourceLogs", document.get("resource_logs"))):
        for scope_logs in _dicts(resource_logs.get("scopeLogs", resource_logs.get("scope_logs"))):
            for record in _dicts(scope_logs.get("logRecords", scope_logs.get("log_records"))):
                for key in ("traceId", "spanId", "trace_id", "span_id"):
                    if isinstance(record.get(key), str):
                        record[key] = _hex_to_base64(record[key], key)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _hex_to_base64(value: str, field: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except (ValueError, binascii.Error):
        raise InvalidInput(f"{field} must be a hex string, got {value[:40]!r}", attr=field) from None
