"""The shared log filters without a database: shapes, validation messages, dates, cursors and SQL text."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from logs_mcp.errors import InvalidInput
from logs_mcp.store.filter_sql import (
    Parameters,
    SqlFragment,
    build_where,
    cursor_predicate,
    leaf_sql,
    like_substring,
    order_by_sql,
)
from logs_mcp.store.filters import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_STRING,
    MAX_VALUES,
    Cursor,
    DateRange,
    FilterGroup,
    FilterLeaf,
    LogFilters,
    Operator,
    decode_cursor,
    encode_cursor,
    error_field,
    parse_date,
    resolve_range,
)

NOW = datetime(2024, 3, 31, 15, 45, 30, 123456, tzinfo=UTC)
HOUR_AGO = NOW - timedelta(hours=1)


def leaf(
    key: str = "http.status", operator: str = "exact", value: Any = "200", type: str = "log_attribute"
) -> dict[str, Any]:
    return {"key": key, "type": type, "operator": operator, "value": value}


def filters(**fields: Any) -> LogFilters:
    return LogFilters.model_validate(fields)


def errors_of(**fields: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        LogFilters.model_validate(fields)
    return [(error_field(error["loc"]), error["msg"]) for error in caught.value.errors()]


def only_error(**fields: Any) -> tuple[str, str]:
    (error,) = errors_of(**fields)
    return error


# --- filterGroup shapes ----------------------------------------------------------------------------


@pytest.mark.parametrize("empty", [None, [], {}])
def test_empty_filter_group_shapes_mean_no_filter(empty: Any) -> None:
    assert filters(filterGroup=empty).filter_group == FilterGroup(type="AND", values=[])


def test_flat_list_is_wrapped_in_two_and_groups() -> None:
    group = filters(filterGroup=[leaf(), leaf(key="user")]).filter_group
    assert group.model_dump(mode="json") == {
        "type": "AND",
        "values": [{"type": "AND", "values": [leaf(), leaf(key="user")]}],
    }


def test_canonical_nested_group_is_unchanged() -> None:
    canonical = {
        "type": "AND",
        "values": [
            {"type": "AND", "values": [leaf(), {"type": "OR", "values": [leaf(key="a"), leaf(key="b")]}]}
        ],
    }
    assert filters(filterGroup=canonical).filter_group.model_dump(mode="json") == canonical


def test_bare_leaves_beside_groups_are_wrapped_in_one_group_of_the_parent_type() -> None:
    inner = {"type": "AND", "values": [leaf(key="c")]}
    for parent in ("AND", "OR"):
        raw = {"type": parent, "values": [leaf(key="a"), inner, leaf(key="b")]}
        assert filters(filterGroup=raw).filter_group.model_dump(mode="json") == {
            "type": parent,
            "values": [{"type": parent, "values": [leaf(key="a"), leaf(key="b")]}, inner],
        }


def test_a_single_leaf_object_is_a_list_of_one() -> None:
    assert filters(filterGroup=leaf()).filter_group == filters(filterGroup=[leaf()]).filter_group


def test_group_type_is_case_insensitive_and_models_are_accepted() -> None:
    group = filters(filterGroup={"type": "or", "values": [{"type": "and", "values": [leaf()]}]}).filter_group
    assert group.type == "OR"
    assert filters(filterGroup=group).filter_group == group


@pytest.mark.parametrize("bad", ["status=200", 42, True])
def test_a_filter_group_that_is_no_object_or_list_is_rejected(bad: Any) -> None:
    assert only_error(filterGroup=bad) == (
        "filterGroup",
        "filterGroup must be an object {type, values} or a list of filters",
    )


def test_group_values_must_be_a_list() -> None:
    assert only_error(filterGroup={"type": "AND", "values": "x"}) == (
        "filterGroup",
        "filterGroup.values must be a list",
    )


def test_leaves_lists_every_leaf_depth_first() -> None:
    raw = {"type": "AND", "values": [{"type": "OR", "values": [leaf(key="a"), {"values": [leaf(key="b")]}]}]}
    assert [item.key for item in filters(filterGroup=raw).filter_group.leaves()] == ["a", "b"]


# --- limits ----------------------------------------------------------------------------------------


def nested(depth: int) -> dict[str, Any]:
    group: dict[str, Any] = {"type": "AND", "values": [leaf()]}
    for _ in range(depth - 1):
        group = {"type": "AND", "values": [group]}
    return group


def test_nesting_up_to_the_limit_is_accepted_and_beyond_is_rejected() -> None:
    assert filters(filterGroup=nested(MAX_DEPTH)).filter_group
    assert only_error(filterGroup=nested(MAX_DEPTH + 1)) == (
        "filterGroup",
        f"filterGroup is nested deeper than {MAX_DEPTH} levels",
    )


def test_absurd_nesting_fails_cleanly_without_recursing() -> None:
    assert only_error(filterGroup=nested(10_000))[1].startswith("filterGroup is nested deeper")


def test_too_many_nodes_are_rejected() -> None:
    leaves = [leaf(operator="is_set", value=None)] * MAX_NODES
    assert only_error(filterGroup=leaves) == (
        "filterGroup",
        f"filterGroup has more than {MAX_NODES} groups and filters",
    )


def test_too_many_values_in_total_are_rejected() -> None:
    half = [str(number) for number in range(MAX_VALUES // 2 + 1)]
    assert only_error(filterGroup=[leaf(value=half), leaf(value=half)]) == (
        "filterGroup",
        f"filterGroup has {2 * len(half)} values in total; at most {MAX_VALUES} are allowed",
    )
    assert filters(filterGroup=[leaf(value=half[:-1]), leaf(value=half[:-1])])


def test_long_strings_are_rejected_naming_the_field() -> None:
    field, message = only_error(filterGroup=[leaf(value=["ok", "x" * (MAX_STRING + 1)])])
    assert (field, message) == (
        "filterGroup.values.0.values.0.value",
        "a value is longer than 1024 characters",
    )
    assert (
        only_error(filterGroup=[leaf(key="k" * (MAX_STRING + 1))])[0] == "filterGroup.values.0.values.0.key"
    )
    assert only_error(searchTerm="s" * (MAX_STRING + 1))[0] == "searchTerm"
    assert only_error(serviceNames=["s" * (MAX_STRING + 1)])[0] == "serviceNames.0"


# --- leaf validation -------------------------------------------------------------------------------


def leaf_error(**fields: Any) -> tuple[str, str]:
    return only_error(filterGroup=[leaf(**fields)])


def test_unknown_operator_names_the_field_and_lists_the_allowed() -> None:
    field, message = leaf_error(operator="contains")
    assert field == "filterGroup.values.0.values.0.operator"
    assert message.startswith("unknown operator 'contains'; allowed: exact, is_not, icontains, not_icontains")
    assert "not_between" in message and "is_date_after" in message


@pytest.mark.parametrize(
    ("alias", "operator"),
    [("is_date_exact", Operator.EXACT), ("is_date_after", Operator.GT), ("is_date_before", Operator.LT)],
)
def test_date_operators_are_aliases(alias: str, operator: Operator) -> None:
    (parsed,) = filters(filterGroup=[leaf(operator=alias)]).filter_group.leaves()
    assert parsed.operator == operator


def test_every_operator_is_accepted() -> None:
    for operator in Operator:
        value = ["1", "2"] if operator in (Operator.BETWEEN, Operator.NOT_BETWEEN) else "1"
        (parsed,) = filters(filterGroup=[leaf(operator=operator.value, value=value)]).filter_group.leaves()
        assert parsed.operator == operator


@pytest.mark.parametrize(
    "pattern", ["(?=x)", "(?!x)", "(?<=x)y", "(?<!x)y", "(a)\\1", "x{2,1}", "[z-a]", "(unclosed"]
)
def test_regexes_outside_re2_are_rejected_on_the_value(pattern: str) -> None:
    field, message = leaf_error(operator="regex", value=pattern)
    assert field == "filterGroup.values.0.values.0.value"
    assert message.startswith(f"invalid regular expression {pattern!r}: ")
    assert message.endswith("(RE2 syntax: no lookaround or backreferences)")


def test_every_regex_of_a_list_is_checked_for_negative_operators_too() -> None:
    assert leaf_error(operator="not_regex", value=["ok", "(?=x)"])[0].endswith(".value")


@pytest.mark.parametrize(
    "pattern", [r"^GET /api/\d+$", "(?i)timeout", r"\bfoo\b", "a|b", "[[:alpha:]]+", r"\p{Greek}"]
)
def test_re2_regexes_are_accepted(pattern: str) -> None:
    assert filters(filterGroup=[leaf(operator="regex", value=pattern)])


def test_value_operators_need_a_value() -> None:
    assert leaf_error(operator="icontains", value=None) == (
        "filterGroup.values.0.values.0.value",
        "operator icontains needs a value",
    )
    del_value = {"key": "k", "type": "log_attribute", "operator": "exact"}
    assert only_error(filterGroup=[del_value])[1] == "operator exact needs a value"


def test_presence_operators_need_no_value() -> None:
    assert filters(filterGroup=[{"key": "k", "type": "log_attribute", "operator": "is_not_set"}])


@pytest.mark.parametrize("value", ["5", ["1"], ["1", "2", "3"]])
def test_between_needs_two_values(value: Any) -> None:
    assert leaf_error(operator="not_between", value=value)[1] == (
        "operator not_between needs a value [low, high] of two items"
    )


def test_unknown_log_column_names_the_key() -> None:
    assert leaf_error(type="log", key="level", value="info") == (
        "filterGroup.values.0.values.0.key",
        "unknown log column 'level'; allowed: message, body, trace_id, span_id, severity_level, "
        "severity_text, service_name, event_name, instrumentation_scope",
    )


def test_unknown_filter_type_is_rejected() -> None:
    field, message = leaf_error(type="person")
    assert field == "filterGroup.values.0.values.0.type"
    assert "'log', 'log_attribute' or 'log_resource_attribute'" in message


@pytest.mark.parametrize(("key", "digits"), [("trace_id", 32), ("span_id", 16)])
def test_ids_must_be_hex_of_their_length(key: str, digits: int) -> None:
    assert leaf_error(type="log", key=key, value=["ab" * (digits // 2), "xyz"]) == (
        "filterGroup.values.0.values.0.value",
        f"'xyz' is not an id of {digits} hex digits",
    )
    assert filters(filterGroup=[leaf(type="log", key=key, value="AB" * (digits // 2))])
    assert filters(filterGroup=[leaf(type="log", key=key, operator="icontains", value="ab")])


@pytest.mark.parametrize("operator", ["gt", "lte", "between", "not_between"])
def test_ids_cannot_be_ordered(operator: str) -> None:
    assert leaf_error(type="log", key="span_id", operator=operator, value=["1", "2"]) == (
        "filterGroup.values.0.values.0.operator",
        f"operator {operator} does not apply to span_id",
    )


def test_values_must_be_scalars_or_lists_of_scalars() -> None:
    for bad in ({"a": 1}, [["nested"]]):
        fields = {field for field, _ in errors_of(filterGroup=[leaf(value=bad)])}
        assert all(field.startswith("filterGroup.values.0.values.0.value") for field in fields)


def test_non_finite_numbers_are_rejected() -> None:
    assert leaf_error(value=float("nan"))[1] == "numbers must be finite"


def test_values_read_as_their_stored_text() -> None:
    parsed = FilterLeaf.model_validate(leaf(value=[True, False, 42, 1.5, "x"]))
    assert parsed.values == ("true", "false", "42", "1.5", "x")
    assert FilterLeaf.model_validate(leaf(operator="is_set", value=None)).values == ()


@pytest.mark.parametrize(
    ("value", "numeric"),
    [
        (200, True),
        ("200", True),
        (["1.5", "-2", "+.5", "1e3"], True),
        (["200", "OK"], False),
        ("nan", False),
        ("1e400", False),
        (" 42", False),
        (True, False),
        ([], False),
    ],
)
def test_log_attributes_compare_as_numbers_only_when_every_value_is_one(value: Any, numeric: bool) -> None:
    assert FilterLeaf.model_validate(leaf(operator="gt", value=value)).compares_numbers is numeric


def test_numbers_never_apply_to_substring_regex_resource_or_column_filters() -> None:
    assert not FilterLeaf.model_validate(leaf(operator="icontains", value="5")).compares_numbers
    assert not FilterLeaf.model_validate(leaf(operator="regex", value="5")).compares_numbers
    assert not FilterLeaf.model_validate(leaf(type="log_resource_attribute", value="5")).compares_numbers
    assert not FilterLeaf.model_validate(leaf(type="log", key="body", value="5")).compares_numbers


def test_extra_leaf_fields_from_posthog_clients_are_ignored() -> None:
    assert FilterLeaf.model_validate({**leaf(), "label": "Status"}).key == "http.status"


# --- the other shared fields -----------------------------------------------------------------------


def test_defaults() -> None:
    defaults = LogFilters()
    assert defaults.date_range == DateRange(date_from="-1h", date_to=None)
    assert (defaults.severity_levels, defaults.service_names, defaults.search_term) == ([], [], None)
    assert defaults.filter_group == FilterGroup()
    assert (
        LogFilters.model_validate({"dateRange": None, "severityLevels": None, "serviceNames": None})
        == defaults
    )


def test_fields_are_camel_case_on_the_wire_and_snake_case_in_python() -> None:
    wire = {
        "severityLevels": ["error"],
        "serviceNames": ["api"],
        "searchTerm": "boom",
        "resourceFingerprint": "7",
    }
    parsed = LogFilters.model_validate(wire)
    assert parsed == LogFilters(
        severity_levels=["error"], service_names=["api"], search_term="boom", resource_fingerprint="7"
    )
    assert (
        parsed.model_dump(
            by_alias=True, include=set(LogFilters.model_fields) - {"date_range", "filter_group"}
        )
        == wire
    )


def test_unknown_top_level_fields_are_rejected_so_typos_do_not_widen_a_query() -> None:
    field, message = only_error(serviceName=["api"])
    assert (field, message) == ("serviceName", "Extra inputs are not permitted")


def test_severity_levels_are_the_six_lowercase_buckets() -> None:
    field, message = only_error(severityLevels=["info", "WARNING"])
    assert field == "severityLevels.1"
    assert message == "Input should be 'trace', 'debug', 'info', 'warn', 'error' or 'fatal'"


@pytest.mark.parametrize("good", ["0", "18446744073709551615", 42])
def test_resource_fingerprint_is_a_uint64(good: Any) -> None:
    assert filters(resourceFingerprint=good).resource_fingerprint == str(good)


@pytest.mark.parametrize("bad", ["-1", "18446744073709551616", "abc", 1.5, True])
def test_bad_resource_fingerprints_are_rejected(bad: Any) -> None:
    assert only_error(resourceFingerprint=bad) == (
        "resourceFingerprint",
        "resourceFingerprint must be an unsigned 64-bit integer",
    )


# --- dates -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("-1h", NOW - timedelta(hours=1)),
        ("-30M", NOW - timedelta(minutes=30)),
        ("-7d", NOW - timedelta(days=7)),
        ("-2w", NOW - timedelta(weeks=2)),
        ("-1m", datetime(2024, 2, 29, 15, 45, 30, 123456, tzinfo=UTC)),  # March 31 → last day of February
        ("-13m", datetime(2023, 2, 28, 15, 45, 30, 123456, tzinfo=UTC)),
        ("-1q", datetime(2023, 12, 31, 15, 45, 30, 123456, tzinfo=UTC)),
        ("-1y", datetime(2023, 3, 31, 15, 45, 30, 123456, tzinfo=UTC)),
        ("-0h", NOW),
        ("-1hStart", datetime(2024, 3, 31, 14, tzinfo=UTC)),
        ("-1hEnd", datetime(2024, 3, 31, 15, tzinfo=UTC)),
        ("-5MStart", datetime(2024, 3, 31, 15, 40, tzinfo=UTC)),
        ("-1dStart", datetime(2024, 3, 30, tzinfo=UTC)),
        ("-1dEnd", datetime(2024, 3, 31, tzinfo=UTC)),
        ("-0wStart", datetime(2024, 3, 25, tzinfo=UTC)),  # Monday
        ("-1mStart", datetime(2024, 2, 1, tzinfo=UTC)),
        ("-1mEnd", datetime(2024, 3, 1, tzinfo=UTC)),
        ("-0qStart", datetime(2024, 1, 1, tzinfo=UTC)),
        ("-1yStart", datetime(2023, 1, 1, tzinfo=UTC)),
        ("-1yEnd", datetime(2024, 1, 1, tzinfo=UTC)),
        ("all", datetime(1900, 1, 1, tzinfo=UTC)),
        ("2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T10:00:00.5+02:00", datetime(2024, 3, 1, 8, 0, 0, 500000, tzinfo=UTC)),
        ("2024-03-01T10:00:00", datetime(2024, 3, 1, 10, tzinfo=UTC)),  # naive is UTC
        ("2024-03-01 10:00", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        (" -1h ", NOW - timedelta(hours=1)),
    ],
)
def test_parse_date(text: str, expected: datetime) -> None:
    assert parse_date(text, NOW) == expected


@pytest.mark.parametrize(
    "text", ["yesterday", "-1x", "1h", "-h", "-1H", "2024-13-01", "", "-1hstart", "now-1h"]
)
def test_unparseable_dates_name_the_field_and_say_what_is_allowed(text: str) -> None:
    field, message = only_error(dateRange={"date_from": text})
    assert field == "dateRange.date_from"
    assert message.startswith(f"{text!r} is not a date: use ISO 8601")
    assert "-30M" in message and "(minutes)" in message


def test_offsets_too_far_back_are_rejected() -> None:
    assert only_error(dateRange={"date_to": "-999999y"}) == (
        "dateRange.date_to",
        "'-999999y' reaches too far back",
    )


def test_date_to_before_date_from_is_rejected_on_date_to() -> None:
    field, message = only_error(dateRange={"date_from": "2024-03-02", "date_to": "2024-03-01"})
    assert field == "dateRange.date_to"
    assert message == (
        "date_to (2024-03-01T00:00:00+00:00) is before date_from (2024-03-02T00:00:00+00:00); "
        "it must be at or after date_from"
    )
    assert only_error(dateRange={"date_from": "-1h", "date_to": "-2h"})[0] == "dateRange.date_to"


def test_date_range_accepts_datetimes_and_posthogs_explicit_date_flag() -> None:
    date_range = DateRange.model_validate({"date_from": NOW, "explicitDate": True})
    assert date_range.date_from == NOW.isoformat()


def test_resolve_range_defaults_to_the_last_hour_exactly() -> None:
    assert resolve_range(DateRange(), NOW) == (HOUR_AGO, NOW)
    assert resolve_range(DateRange(date_from=None), NOW) == (HOUR_AGO, NOW)
    assert resolve_range(DateRange(date_from="-7d"), NOW) == (NOW - timedelta(days=7), NOW)


def test_resolve_range_half_open_absolute() -> None:
    date_range = DateRange(date_from="2024-03-01T00:00:00Z", date_to="2024-03-01T00:00:00Z")
    assert resolve_range(date_range, NOW) == (datetime(2024, 3, 1, tzinfo=UTC),) * 2


def test_resolve_range_clamps_to_what_clickhouse_can_store() -> None:
    start, end = resolve_range(DateRange(date_from="1000-01-01", date_to="9999-01-01"), NOW)
    assert (start.year, end.year) == (1900, 2299)


def test_resolve_range_reports_bad_input_as_invalid_input_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_range(DateRange.model_construct(date_from="2024-03-31T16:00:00Z", date_to="-1h"), NOW)
    assert caught.value.attr == "dateRange.date_to"
    assert "is before date_from" in caught.value.detail
    with pytest.raises(InvalidInput) as unparsed:
        resolve_range(DateRange.model_construct(date_from="soon", date_to=None), NOW)
    assert unparsed.value.attr == "dateRange.date_from"


# --- cursors ---------------------------------------------------------------------------------------

ROW_UUID = UUID("0190d9a8-6e1f-7c3a-9b2e-0f1d2c3b4a59")


def test_cursor_round_trips_as_base64_json() -> None:
    text = encode_cursor(NOW, ROW_UUID)
    assert json.loads(base64.b64decode(text)) == {"timestamp": NOW.isoformat(), "uuid": str(ROW_UUID)}
    assert decode_cursor(text) == Cursor(NOW, ROW_UUID)


def test_cursor_accepts_url_safe_base64_and_naive_timestamps() -> None:
    payload = json.dumps({"timestamp": "2024-03-31T15:45:30.123456", "uuid": str(ROW_UUID)}).encode()
    assert decode_cursor(base64.urlsafe_b64encode(payload).decode()) == Cursor(NOW, ROW_UUID)


@pytest.mark.parametrize(
    "bad",
    [
        "not base64!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b'{"timestamp": "2024-01-01"}').decode(),
        base64.b64encode(b'{"timestamp": "later", "uuid": "0190d9a8-6e1f-7c3a-9b2e-0f1d2c3b4a59"}').decode(),
        base64.b64encode(b'{"timestamp": "2024-01-01", "uuid": "nope"}').decode(),
        base64.b64encode(b"[1, 2]").decode(),
    ],
)
def test_bad_cursors_are_invalid_input_on_after(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(bad)
    assert caught.value.attr == "after"
    assert caught.value.detail == "after is not a cursor: pass the previous page's nextCursor unchanged"


def test_order_by_and_cursor_predicates() -> None:
    assert order_by_sql("latest") == "timestamp DESC, uuid DESC"
    assert order_by_sql("earliest") == "timestamp ASC, uuid ASC"
    latest = cursor_predicate("latest", Cursor(NOW, ROW_UUID))
    assert latest.sql == (
        "(timestamp <= {cursor0:DateTime64(6, 'UTC')} AND "
        "(timestamp < {cursor0:DateTime64(6, 'UTC')} OR uuid < {cursor1:UUID}))"
    )
    assert latest.params == {"cursor0": NOW, "cursor1": ROW_UUID}
    assert ">=" in cursor_predicate("earliest", Cursor(NOW, ROW_UUID)).sql


# --- SQL text --------------------------------------------------------------------------------------

HOSTILE = [
    "'; DROP TABLE logs; --",
    "\\' OR 1=1 --",
    "{p0:String}",
    "}{",
    "100%",
    "a_b",
    "back\\slash",
    '"double"',
    "new\nline",
    "nul\x00byte",
]


def where(**fields: Any) -> SqlFragment:
    return build_where(7, filters(**fields), HOUR_AGO, NOW)


def placeholders(sql: str) -> list[str]:
    return re.findall(r"\{(\w+):[^{}]+\}", sql)


def test_base_condition_scopes_project_and_half_open_range() -> None:
    fragment = where()
    assert fragment.sql == (
        "project_id = {p0:UInt64} AND timestamp >= {p1:DateTime64(6, 'UTC')} "
        "AND timestamp < {p2:DateTime64(6, 'UTC')}"
    )
    assert fragment.params == {"p0": 7, "p1": HOUR_AGO, "p2": NOW}


def test_top_level_fields() -> None:
    fragment = where(
        severityLevels=["error", "fatal"], serviceNames=["api"], resourceFingerprint="42", searchTerm="to"
    )
    assert fragment.sql.endswith(
        "severity_text IN ({p3:String}, {p4:String}) AND service_name IN ({p5:String}) "
        "AND resource_fingerprint = {p6:UInt64} AND (body ILIKE {p7:String})"
    )
    assert [fragment.params[name] for name in ("p3", "p4", "p5", "p6", "p7")] == [
        "error",
        "fatal",
        "api",
        42,
        "%to%",
    ]


def test_search_term_uses_the_body_text_index_only_when_exact_and_over_more_than_an_hour() -> None:
    def day_where(term: str) -> str:
        return build_where(7, filters(searchTerm=term), NOW - timedelta(days=1), NOW).sql

    assert "hasAllTokens(body, {p4:String}) AND (body ILIKE {p3:String})" in day_where("Timeout")
    assert "hasAllTokens" not in day_where("Époque")  # lower() in the index is ASCII-only
    assert "hasAllTokens" not in day_where("ab")  # shorter than one 3-gram
    assert "hasAllTokens" not in where(searchTerm="Timeout").sql  # one hour: a few granules


@pytest.mark.parametrize(
    ("term", "pattern"),
    [
        ("100%", "%100\\%%"),
        ("a_b", "%a\\_b%"),
        ("c:\\temp", "%c:\\\\temp%"),
        ("%_\\", "%\\%\\_\\\\%"),
        ("", "%%"),
    ],
)
def test_like_substring_escapes_wildcards(term: str, pattern: str) -> None:
    assert like_substring(term) == pattern


@pytest.mark.parametrize("hostile", HOSTILE)
def test_no_user_string_ever_reaches_the_sql_text(hostile: str) -> None:
    group = [
        leaf(
            key=hostile, operator=operator.value, value=["1", "2"] if "between" in operator.value else hostile
        )
        for operator in Operator
        if operator not in (Operator.REGEX, Operator.NOT_REGEX) or hostile not in ("}{", "{p0:String}")
    ]
    group += [
        leaf(type="log_resource_attribute", key=hostile, value=hostile),
        leaf(type="log", key="body", value=hostile),
    ]
    fragment = where(
        searchTerm=hostile, serviceNames=[hostile], filterGroup={"type": "OR", "values": [{"values": group}]}
    )
    text_without_placeholders = re.sub(r"\{\w+:[^{}]+\}", "", fragment.sql)
    assert hostile not in text_without_placeholders
    assert not re.search(r"['\"\\%]", text_without_placeholders.replace("'UTC'", ""))
    assert set(placeholders(fragment.sql)) == set(fragment.params)
    assert hostile in fragment.params.values()


def test_parameter_names_are_unique_and_sequential() -> None:
    fragment = where(filterGroup=[leaf(value=["a", "b"]), leaf(key="user", operator="regex", value="x")])
    assert list(fragment.params) == [f"p{index}" for index in range(len(fragment.params))]


def test_fragments_combine_only_with_distinct_parameter_names() -> None:
    combined = where().and_(cursor_predicate("latest", Cursor(NOW, ROW_UUID)))
    assert combined.sql.count(" AND ") == 4 and len(combined.params) == 5
    with pytest.raises(ValueError, match="parameter names used twice"):
        where().and_(where())


def sql_of(**fields: Any) -> str:
    parsed = FilterLeaf.model_validate(leaf(**fields))
    return leaf_sql(parsed, Parameters()) or ""


@pytest.mark.parametrize(
    ("fields", "sql"),
    [
        ({"value": "OK"}, "(attributes[{p0:String}] = {p1:String})"),
        ({"value": ["a", "b"], "operator": "in"}, "(attributes[{p0:String}] IN ({p1:String}, {p2:String}))"),
        (
            {"value": ["a", "b"], "operator": "is_not"},
            "(NOT (attributes[{p0:String}] IN ({p1:String}, {p2:String})))",
        ),
        (
            {"value": 200},
            "(mapContains(attributes, {p0:String}) "
            "AND ifNull((toFloat64OrNull(attributes[{p0:String}]) = {p1:Float64}), 0))",
        ),
        (
            {"value": ["1", "2"], "operator": "gt"},
            "(mapContains(attributes, {p0:String}) "
            "AND ifNull(((toFloat64OrNull(attributes[{p0:String}]) > {p1:Float64}) "
            "OR (toFloat64OrNull(attributes[{p0:String}]) > {p2:Float64})), 0))",
        ),
        (
            {"value": [1, 5], "operator": "not_between"},
            "(NOT (mapContains(attributes, {p0:String}) "
            "AND ifNull((toFloat64OrNull(attributes[{p0:String}]) "
            "BETWEEN {p1:Float64} AND {p2:Float64}), 0)))",
        ),
        ({"value": "b", "operator": "lte"}, "(attributes[{p0:String}] <= {p1:String})"),
        ({"operator": "is_set", "value": None}, "mapContains(attributes, {p0:String})"),
        ({"operator": "is_not_set", "value": None}, "(NOT mapContains(attributes, {p0:String}))"),
        (
            {"operator": "regex", "value": ["^a", "b$"]},
            "(match(attributes[{p0:String}], {p1:String}) OR match(attributes[{p0:String}], {p2:String}))",
        ),
        ({"operator": "not_icontains", "value": "x"}, "(NOT (attributes[{p0:String}] ILIKE {p1:String}))"),
        (
            {"type": "log_resource_attribute", "value": "5"},
            "(resource_attributes[{p0:String}] = {p1:String})",
        ),
        (
            {"type": "log_resource_attribute", "operator": "is_set", "value": None},
            "mapContains(resource_attributes, {p0:String})",
        ),
        (
            {"type": "log", "key": "severity_level", "value": ["warn", "error"]},
            "(severity_text IN ({p0:String}, {p1:String}))",
        ),
        (
            {"type": "log", "key": "message", "operator": "icontains", "value": "ab"},
            "(body ILIKE {p0:String})",
        ),
        ({"type": "log", "key": "trace_id", "value": "ab" * 16}, "(trace_id = unhex({p0:String}))"),
        (
            {"type": "log", "key": "span_id", "operator": "not_in", "value": ["ab" * 8, "cd" * 8]},
            "(NOT (span_id IN (unhex({p0:String}), unhex({p1:String}))))",
        ),
        (
            {"type": "log", "key": "trace_id", "operator": "regex", "value": "^AB"},
            "match(hex(trace_id), {p0:String})",
        ),
        ({"type": "log", "key": "trace_id", "operator": "is_set", "value": None}, "notEmpty(trace_id)"),
        (
            {"type": "log", "key": "event_name", "operator": "is_not_set", "value": None},
            "(NOT (event_name != ''))",
        ),
        ({"value": []}, ""),
        ({"value": [], "operator": "not_in"}, ""),
    ],
)
def test_leaf_sql(fields: dict[str, Any], sql: str) -> None:
    assert sql_of(**fields) == sql


def test_ignored_members_drop_out_of_groups() -> None:
    empty_leaf = leaf(value=[])
    assert where(filterGroup=[empty_leaf]).sql == where().sql
    or_group = where(filterGroup={"type": "OR", "values": [{"type": "AND", "values": []}, leaf(value="x")]})
    assert or_group.sql.endswith("AND (((attributes[{p3:String}] = {p4:String})))")
