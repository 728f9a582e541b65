"""OTLP protobuf ingest inside ClickHouse: the request bytes go in whole, the rows come out mapped.

One ``INSERT … FORMAT ProtobufSingle`` of the request into a ``Null`` staging table, whose columns
mirror the OTLP message tree, fires a materialized view that flattens resource → scope → record and
applies the record → row mapping of ``logs-query.md`` §1.4 in SQL, exactly as
``logs_mcp.logs.ingest`` does in Python (that path stays the reference; the tests compare both). The
request is stored whole or not at all, with no Python loop over the records.

What SQL cannot map exactly makes the view throw (:data:`FALLBACK_MARKER`), and the caller sends the
request down the Python path instead: array and key-value-list AnyValues (recursive, so ClickHouse types
cannot express them; the schema reads them as raw bytes to notice them), and bodies that start like a
JSON object ClickHouse does not parse while Python's ``json`` might find a level in them.

The project id, the ingest time and the allowed clock skew travel inside the message: the caller
appends them as fields of the :data:`MESSAGE` envelope after the request bytes. Protobuf's last field
wins, so a client sending these field numbers cannot override them (a ClickHouse server only accepts
custom settings under configured prefixes and chDB under none, so settings cannot carry them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from clickhouse_connect.driver.exceptions import DatabaseError

if TYPE_CHECKING:  # log_schema lists this module's migration, and LogStore runs migrations
    from logs_mcp.store.clickhouse import LogStore
    from logs_mcp.store.log_schema import SchemaTarget

STAGING_TABLE = "otlp_logs_ingest"
MESSAGE = "NativeLogsIngest"
FALLBACK_MARKER = "logs-mcp: needs the Python ingest path"
# Field numbers of the envelope: the top of the protobuf range, far from any OTLP field.
PROJECT_FIELD, NOW_FIELD, SKEW_FIELD = 536_870_901, 536_870_902, 536_870_903

# The OTLP logs messages as far as the mapping reads them (unread fields are skipped); ``oneof``s let
# ClickHouse say which AnyValue kind is set (an int 0 from an unset value) and whether a scope is there.
PROTO_SCHEMA = f"""syntax = "proto3";
message AnyValue {{
  oneof value {{
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    bytes array_value = 5;
    bytes kvlist_value = 6;
    bytes bytes_value = 7;
  }}
}}
message KeyValue {{ string key = 1; AnyValue value = 2; }}
message Resource {{ repeated KeyValue attributes = 1; }}
message InstrumentationScope {{ string name = 1; string version = 2; }}
message LogRecord {{
  fixed64 time_unix_nano = 1;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  fixed32 flags = 8;
  bytes trace_id = 9;
  bytes span_id = 10;
  string event_name = 12;
}}
message ScopeLogs {{
  oneof scope_presence {{ InstrumentationScope scope = 1; }}
  repeated LogRecord log_records = 2;
}}
message ResourceLogs {{ Resource resource = 1; repeated ScopeLogs scope_logs = 2; }}
message {MESSAGE} {{
  repeated ResourceLogs resource_logs = 1;
  uint64 ingest_project_id = {PROJECT_FIELD};
  fixed64 ingest_now_unix_nano = {NOW_FIELD};
  fixed64 ingest_max_skew_nanos = {SKEW_FIELD};
}}
"""

INSERT_SETTINGS = {"input_format_protobuf_oneof_presence": 1}

# The rule tables of §1.4, shared with the Python path (``logs_mcp.logs.ingest``).
SEVERITY_ALIASES = {
    **dict.fromkeys(("critical", "fatal", "crit", "alert", "emerg"), "fatal"),
    **dict.fromkeys(("error", "err", "eror"), "error"),
    **dict.fromkeys(("warn", "warning"), "warn"),
    **dict.fromkeys(("info", "information", "informational"), "info"),
    **dict.fromkeys(("debug", "dbug"), "debug"),
    "trace": "trace",
}
SEVERITY_NUMBERS = {"trace": 1, "debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}
BODY_LEVEL_KEYS = ("level", "severity", "log.level", "config.log_level")

_KIND = (
    "Enum8('none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, 'double_value' = 4, "
    "'array_value' = 5, 'kvlist_value' = 6, 'bytes_value' = 7)"
)
_ANY_VALUE = (
    "Tuple(string_value String, bool_value Bool, int_value Int64, double_value Float64, "
    f"array_value String, kvlist_value String, bytes_value String, value {_KIND})"
)
_KEY_VALUES = f"Array(Tuple(key String, value {_ANY_VALUE}))"
_RECORD = (
    "Tuple(time_unix_nano UInt64, severity_number Int32, severity_text String, "
    f"body {_ANY_VALUE}, attributes {_KEY_VALUES}, flags UInt32, trace_id String, span_id String, "
    "event_name String)"
)
_SCOPE_LOGS = (
    "Tuple(scope Tuple(name String, version String), scope_presence Enum8('none' = 0, 'scope' = 1), "
    f"log_records Array({_RECORD}))"
)
STAGING_COLUMNS = f"""
    resource_logs Array(Tuple(resource Tuple(attributes {_KEY_VALUES}), scope_logs Array({_SCOPE_LOGS}))),
    ingest_project_id UInt64,
    ingest_now_unix_nano UInt64,
    ingest_max_skew_nanos UInt64"""


def _array(values: Iterable[object]) -> str:
    return "[" + ", ".join(f"'{value}'" if isinstance(value, str) else str(value) for value in values) + "]"


# The mapping in SQL. ClickHouse analyses the view's query again on every insert, and copies an alias's
# expression wherever the alias is used, so the query is kept small, with few lambdas: what would take
# long SQL for rare input goes to the Python path instead (see ``_NEEDS_PYTHON``).

# What a value's text is when only the Python path writes it exactly: a list or a map (recursive), or a
# double Python writes in scientific notation or not at all (NaN, infinities). A string holding it
# merely takes the Python path too.
_UNMAPPED = "\\\\0logs-mcp:unmapped"
# What Python's str.strip() removes in ASCII (text with other characters takes the Python path).
_ASCII_SPACE = r" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
# DateTime64 ends with 2299; later original timestamps are formatted by the Python path.
_LAST_FORMATTED_NANOS = 10_413_791_999_999_999_999


def _value_text(value: str) -> str:
    """``any_value_text`` of ``logs.ingest``: strings as they are, "42", "true", base64 bytes in quotes;
    doubles with 0 or 1e-4 <= |x| < 1e16, which Python writes as ClickHouse does (shortest round-trip
    digits in fixed notation) but with ".0" after whole numbers."""
    double = f"{value}.double_value"
    return (
        f"multiIf({value}.value = 'string_value', {value}.string_value, "
        f"{value}.value = 'int_value', toString({value}.int_value), "
        f"{value}.value = 'bool_value', if({value}.bool_value, 'true', 'false'), "
        f"{value}.value = 'bytes_value', concat('\"', base64Encode({value}.bytes_value), '\"'), "
        f"{value}.value = 'none', '', "
        f"{value}.value != 'double_value', '{_UNMAPPED}', "
        f"{double} = 0, if(toString({double}) = '-0', '-0.0', '0.0'), "
        f"abs({double}) >= 0.0001 AND abs({double}) < 1e16, "
        f"if(position(toString({double}), '.') > 0, toString({double}), concat(toString({double}), '.0')), "
        f"'{_UNMAPPED}')"
    )


def _severity_alias(text: str) -> str:
    """The level ``text`` names, stripped and lowercased as Python does, or ''."""
    # indexOf over constant arrays, not transform(), which costs more to analyse than to run here
    names = _array(("", *SEVERITY_ALIASES.values()))
    return f"{names}[indexOf({_array(SEVERITY_ALIASES)}, lower(trimBoth({text}, '{_ASCII_SPACE}'))) + 1]"


# The mapping is staged in subqueries, whose columns are computed (and analysed) once, where an alias
# would copy its expression into every use.

# One row per resource: the request's envelope, and its attributes' keys and texts.
_RESOURCE_VALUES = """
    SELECT ingest_project_id AS request_project_id,
        ingest_now_unix_nano AS now_ns,
        greatest(1, toInt128(ingest_now_unix_nano) - ingest_max_skew_nanos) AS earliest_ns,
        toInt128(ingest_now_unix_nano) + ingest_max_skew_nanos AS latest_ns,
        rl.resource.attributes.key AS resource_keys,
        arrayMap(value -> {value_text}, rl.resource.attributes.value) AS resource_values,
        rl.scope_logs AS scope_logs
    FROM {staging} ARRAY JOIN resource_logs AS rl"""

# The resource attributes as the Python path builds them: sorted by key, ``service.name`` appended
# when absent.
_RESOURCE = """
    SELECT request_project_id, now_ns, earliest_ns, latest_ns, scope_logs,
        mapFromArrays(
            arrayConcat(arraySort(resource_keys),
                if(has(resource_keys, 'service.name'), [], ['service.name'])),
            arrayConcat(arraySort((value, key) -> key, resource_values, resource_keys),
                if(has(resource_keys, 'service.name'), [], ['']))) AS resource_attributes,
        if(has(resource_keys, 'service.name'), resource_values[indexOf(resource_keys, 'service.name')], '')
            AS service_name,
        has(resource_values, '{unmapped}') OR length(arrayDistinct(resource_keys)) != length(resource_keys)
            AS unmapped_resource
    FROM ({resource_values})"""

# One row per record, with its values as text.
_RECORD_VALUES = """
    SELECT request_project_id, now_ns, resource_attributes, service_name, unmapped_resource,
        lr.time_unix_nano AS time_unix_nano,
        time_unix_nano >= earliest_ns AND time_unix_nano <= latest_ns AS in_time,
        if(in_time OR time_unix_nano = 0, '', concat(
            formatDateTime(toDateTime64(intDiv(time_unix_nano, 1000000000), 0, 'UTC'),
                '%Y-%m-%dT%H:%i:%S.', 'UTC'),
            leftPad(toString(time_unix_nano % 1000000000), 9, '0'), 'Z')) AS original_timestamp,
        if(length(lr.trace_id) = 16, lr.trace_id, repeat('\\0', 16)) AS trace_id,
        if(length(lr.span_id) = 8, lr.span_id, repeat('\\0', 8)) AS span_id,
        lr.flags AS trace_flags,
        lr.severity_number AS number,
        lr.severity_text AS text,
        {body_text} AS body,
        lr.attributes.key AS record_keys,
        arrayMap(value -> {value_text}, lr.attributes.value) AS record_values,
        if(sl.scope_presence = 'scope', concat(sl.scope.name, '@', sl.scope.version), '')
            AS instrumentation_scope,
        lr.event_name AS event_name
    FROM ({resource}) ARRAY JOIN scope_logs AS sl ARRAY JOIN sl.log_records AS lr"""

# The row of each record, mapped as ``logs.ingest.LogIngest.to_columns`` maps it, but for the number
# of a named level.
_RECORD = """
    SELECT request_project_id + throwIf({needs_python}, '{marker}') AS project_id,
        fromUnixTimestamp64Micro(toInt64(intDiv(if(in_time, time_unix_nano, now_ns), 1000)), 'UTC')
            AS timestamp,
        fromUnixTimestamp64Micro(toInt64(intDiv(now_ns, 1000)), 'UTC') AS observed_timestamp,
        trace_id, span_id, trace_flags, number, service_name, body, resource_attributes,
        instrumentation_scope, event_name,
        multiIf(number > 24, 'unknown', number > 0, {buckets}[intDiv(number - 1, 4) + 1],
            coalesce(nullIf({body_level}, ''), nullIf({named_level}, ''), 'info')) AS severity_text,
        mapFromArrays(
            if(original_timestamp = '', record_keys, arrayPushBack(record_keys, '$originalTimestamp')),
            if(original_timestamp = '', record_values, arrayPushBack(record_values, original_timestamp)))
            AS attributes
    FROM ({record_values})"""

_ROW = """
    SELECT project_id, timestamp, observed_timestamp, trace_id, span_id, trace_flags, severity_text,
        if(number > 0, number, {numbers}[indexOf({names}, severity_text)]) AS severity_number,
        service_name, body, attributes, resource_attributes, instrumentation_scope, event_name
    FROM ({record})"""

# What only the Python path maps exactly; the insert then throws, and nothing is stored. The check
# rides on a column the logs keep, so it is never pruned away.
_NEEDS_PYTHON = """
    unmapped_resource OR body = '{unmapped}' OR has(record_values, '{unmapped}')
    -- a repeated key: a dict keeps its first place and last value
    OR length(arrayDistinct(record_keys)) != length(record_keys)
    OR original_timestamp != ''
        AND (has(record_keys, '$originalTimestamp') OR time_unix_nano > {last_formatted})
    -- text Python would strip of Unicode spaces
    OR number <= 0 AND NOT isValidASCII(text)
    OR number <= 0 AND startsWith(body, '{{') AND (
        -- JSON Python reads and ClickHouse does not (NaN, 1e400, lone surrogates), escaped keys, and
        -- repeated keys (ClickHouse reads the first, Python keeps the last) may name another level
        position(body, '\\\\u') > 0
        OR NOT isValidJSON(body) AND (position(body, 'level') > 0 OR position(body, 'severity') > 0)
        OR {repeated_keys} OR NOT isValidASCII(concat({body_strings})))"""


def _body_level() -> tuple[str, str, str]:
    """The level a JSON-object body names under the first of BODY_LEVEL_KEYS holding a known one;
    its strings under those keys; whether one of those keys may be repeated."""
    strings = [f"JSONExtractString(body, '{key}')" for key in BODY_LEVEL_KEYS]
    levels = [_severity_alias(string) for string in strings]
    first_known = "coalesce(" + ", ".join(f"nullIf({level}, '')" for level in levels) + ", '')"
    level = f"if(number <= 0 AND startsWith(body, '{{'), {first_known}, '')"
    repeated = " OR ".join(f"countSubstrings(body, '\"{key}\"') > 1" for key in BODY_LEVEL_KEYS)
    return level, ", ".join(strings), repeated


def mapping_select(staging: str) -> str:
    """The logs rows of the requests in ``staging``, in the logs table's columns (``uuid`` takes its
    default)."""
    body_level, body_strings, repeated_keys = _body_level()
    needs_python = _NEEDS_PYTHON.format(
        unmapped=_UNMAPPED,
        last_formatted=_LAST_FORMATTED_NANOS,
        repeated_keys=repeated_keys,
        body_strings=body_strings,
    )
    resource_values = _RESOURCE_VALUES.format(staging=staging, value_text=_value_text("value"))
    record_values = _RECORD_VALUES.format(
        resource=_RESOURCE.format(resource_values=resource_values, unmapped=_UNMAPPED),
        body_text=_value_text("lr.body"),
        value_text=_value_text("value"),
    )
    record = _RECORD.format(
        record_values=record_values,
        needs_python=needs_python,
        marker=FALLBACK_MARKER,
        body_level=body_level,
        named_level=_severity_alias("text"),
        buckets=_array(SEVERITY_NUMBERS),
    )
    numbers = _array(SEVERITY_NUMBERS.values())
    return _ROW.format(record=record, names=_array(SEVERITY_NUMBERS), numbers=numbers)


ROW_COLUMNS = (
    "project_id",
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


def create_native_ingest(target: SchemaTarget) -> list[str]:
    """Version 4: the ``Null`` staging table OTLP protobuf requests are inserted into, and the view
    mapping their records into the logs (through the ``Distributed`` table on a cluster, so rows are
    sharded as the Python path's are). Every node gets both, as any node may take the insert."""
    from logs_mcp.store.log_schema import LOGS_TABLE  # here: log_schema imports this module

    return native_ingest_statements(target, STAGING_TABLE, LOGS_TABLE)


def native_ingest_statements(target: SchemaTarget, staging: str, destination: str) -> list[str]:
    """A staging table named ``staging`` whose view maps requests into the table ``destination``."""
    return [
        f"CREATE TABLE IF NOT EXISTS {target.table(staging)}{target.on_cluster} ({STAGING_COLUMNS}\n) "
        "ENGINE = Null",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {target.table(staging + '_mv')}{target.on_cluster} "
        f"TO {target.table(destination)} AS {mapping_select(target.table(staging))}",
    ]


def envelope(project_id: int, now_ns: int, max_skew_ns: int) -> bytes:
    """The fields appended to a request's bytes: what the view needs besides the request. Appended
    last, they win over the same field numbers in the request."""
    varint_field, fixed64_field = 0, 1  # protobuf wire types
    return b"".join(
        (
            _varint(PROJECT_FIELD << 3 | varint_field) + _varint(project_id),
            _varint(NOW_FIELD << 3 | fixed64_field) + now_ns.to_bytes(8, "little"),
            _varint(SKEW_FIELD << 3 | fixed64_field) + max_skew_ns.to_bytes(8, "little"),
        )
    )


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def insert_request(
    store: LogStore,
    request: bytes,
    project_id: int,
    now_ns: int,
    max_skew_ns: int,
    staging: str = STAGING_TABLE,
) -> bool:
    """Stores a decoded-valid OTLP protobuf request whole through the view; False (nothing stored)
    when it needs the Python path."""
    try:
        _insert(store, request + envelope(project_id, now_ns, max_skew_ns), "ProtobufSingle", staging)
    except DatabaseError as error:
        if FALLBACK_MARKER in str(error):
            return False
        raise
    return True


def insert_requests(store: LogStore, messages: Sequence[bytes], staging: str = STAGING_TABLE) -> None:
    """Stores several requests, each already followed by its :func:`envelope`, in one insert: one row
    of the staging table each (length-delimited ``Protobuf``), so the view is planned once for all.
    All or nothing: a request the view refuses fails the whole insert."""
    _insert(store, b"".join(_varint(len(message)) + message for message in messages), "Protobuf", staging)


def _insert(store: LogStore, data: bytes, fmt: str, staging: str) -> None:
    settings = store.protobuf_schema_settings("otlp_logs", PROTO_SCHEMA, MESSAGE)
    store.raw_insert(store.target.table(staging), data, fmt, {**INSERT_SETTINGS, **settings})
