"""A throwaway PostgreSQL schema per test or session, so PostgreSQL runs repeat and never touch other
tables; skipped, with the reason shown, when LOGS_MCP_TEST_DATABASE_URL is unset."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

POSTGRES_URL_ENV = "LOGS_MCP_TEST_DATABASE_URL"


@contextmanager
def postgres_schema_url(prefix: str, skipped: str) -> Iterator[str]:
    """The URL of an empty schema of its own (its search_path), dropped afterwards. ``skipped`` names the
    tests for the skip reason."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_URL_ENV} is not set: {skipped} not run")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
