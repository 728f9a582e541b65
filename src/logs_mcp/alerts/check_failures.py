"""Classify a failed check query into a §2.9 :class:`CheckFailure` with a user-safe message.

ClickHouse (server or chDB) reports ``Code: <n>. DB::Exception: <text> (<NAME>)``. Only errors whose text is
about the user's own filters are shown (sanitised: no stack trace, no SQL); everything else gets the fixed
message of its code, since raw errors may reveal the query or the server.
"""

from __future__ import annotations

import re
from typing import Final

from clickhouse_connect.driver.exceptions import OperationalError

from logs_mcp.alerts.state_machine import CheckFailure, FailureCode

_QUERY_PERFORMANCE: Final = frozenset(
    {
        158,  # TOO_MANY_ROWS
        159,  # TIMEOUT_EXCEEDED
        160,  # TOO_SLOW
        241,  # MEMORY_LIMIT_EXCEEDED
        307,  # TOO_MANY_BYTES
        396,  # TOO_MANY_ROWS_OR_BYTES
    }
)
_SERVER_BUSY: Final = frozenset(
    {
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        203,  # NO_FREE_CONNECTION
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        242,  # TABLE_IS_READ_ONLY (replica catching up)
        252,  # TOO_MANY_PARTS
        319,  # UNKNOWN_STATUS_OF_INSERT
    }
)
_CANCELLED: Final = frozenset({394})  # QUERY_WAS_CANCELLED
_USER_ERRORS: Final = frozenset(
    {
        427,  # CANNOT_COMPILE_REGEXP: a filter's regex
        6,  # CANNOT_PARSE_TEXT
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        72,  # CANNOT_PARSE_NUMBER
    }
)
_CODE: Final = re.compile(r"Code: (\d+)\.")
_HTTP_BUSY: Final = re.compile(r"\b(429|502|503|504)\b")
_DETAIL: Final = re.compile(r"DB::Exception: (?P<text>.*?)(?: \([A-Z_]+\))?(?:\. \(|$)", re.DOTALL)


def classify_failure(error: BaseException, query_duration_ms: int | None = None) -> CheckFailure:
    """The §2.9 classification of ``error`` raised by a check query."""
    text = str(error)
    match = _CODE.search(text)
    code = int(match.group(1)) if match else None
    if code in _QUERY_PERFORMANCE:
        failure = FailureCode.QUERY_PERFORMANCE
    elif _busy(error, code, text):
        failure = FailureCode.SERVER_BUSY
    elif code in _CANCELLED:
        failure = FailureCode.CANCELLED
    elif code in _USER_ERRORS:
        return CheckFailure(
            code=FailureCode.INVALID_QUERY,
            message=sanitise(text),
            query_duration_ms=query_duration_ms,
        )
    else:
        failure = FailureCode.UNKNOWN
    return CheckFailure(code=failure, query_duration_ms=query_duration_ms)


def _busy(error: BaseException, code: int | None, text: str) -> bool:
    if code in _SERVER_BUSY or isinstance(error, OperationalError | ConnectionError | TimeoutError):
        return True
    # A ClickHouse server behind a proxy answers "HTTP … 503" without a ClickHouse code.
    return code is None and "HTTP" in text and _HTTP_BUSY.search(text) is not None


def sanitise(text: str) -> str:
    """``Code: 427. DB::Exception: X: In scope SELECT … (NAME)`` → ``X``: no stack trace, no SQL."""
    detail = text.split("\nStack trace", 1)[0]
    found = _DETAIL.search(detail)
    if found:
        detail = found.group("text")
    detail = re.split(r":? In scope |:? While processing ", detail, maxsplit=1)[0]
    detail = re.sub(r" \([A-Z_]+\)\s*$", "", detail).strip()
    return detail or "The alert's filters could not be evaluated."
