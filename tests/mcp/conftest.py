"""Helpers shared by the MCP tests."""

from __future__ import annotations

import json
import time

import pytest


@pytest.fixture(scope="session")
def one_log_record() -> bytes:
    """An OTLP/JSON export request carrying a single log record, stamped now."""
    record = {
        "timeUnixNano": str(time.time_ns()),
        "severityText": "ERROR",
        "body": {"stringValue": "payment declined"},
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]}
    return json.dumps(
        {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [record]}]}]}
    ).encode()
