"""Alembic migrations of the state store: empty to head on SQLite and PostgreSQL; a second run is a no-op."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from logs_mcp.errors import NotAuthenticated
from logs_mcp.logs.accounts import READ, Accounts
from logs_mcp.store import state
from postgres_schemas import postgres_schema_url

FOUNDATION_TABLES = {"projects", "api_keys", "alembic_version"}
API_KEY_COLUMNS = {
    "id",
    "label",
    "key_hash",
    "mask",
    "scopes",
    "project_ids",
    "created_at",
    "last_used_at",
}


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = state.make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    """An engine on a schema of its own, dropped afterwards, so runs repeat and never touch other tables."""
    with postgres_schema_url("logs_mcp_test", "PostgreSQL migration test") as url:
        engine = state.make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_engine(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    assert sa.inspect(engine).get_table_names() == []
    return engine


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(state.MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one_or_none()


def test_upgrade_from_empty_creates_the_tables_at_head(empty_engine: Engine) -> None:
    state.upgrade(empty_engine)

    inspector = sa.inspect(empty_engine)
    assert set(inspector.get_table_names()) >= FOUNDATION_TABLES
    assert {column["name"] for column in inspector.get_columns("api_keys")} == API_KEY_COLUMNS
    assert {index["name"]: index["unique"] for index in inspector.get_indexes("projects")} == {
        "ix_projects_ingestion_token": True
    }
    assert current_revision(empty_engine) == head_revision()


def test_projects_and_keys_work_after_upgrade(empty_engine: Engine) -> None:
    state.upgrade(empty_engine)
    accounts = Accounts(empty_engine)

    project = accounts.create_project("payments")
    assert project.id is not None
    created = accounts.create_api_key([project.id], [READ], label="ci")

    principal = accounts.authenticate(created.key)
    assert principal.scopes == {READ}
    assert principal.project_ids == {project.id}
    assert accounts.project_for_ingestion_token(project.ingestion_token) == project.id
    assert accounts.list_projects()[0].name == "payments"
    with pytest.raises(NotAuthenticated):
        accounts.authenticate(created.key + "x")


def test_upgrade_twice_is_a_no_op(empty_engine: Engine) -> None:
    state.upgrade(empty_engine)
    tables = set(sa.inspect(empty_engine).get_table_names())
    project = Accounts(empty_engine).create_project("kept")

    state.upgrade(empty_engine)

    assert current_revision(empty_engine) == head_revision()
    assert set(sa.inspect(empty_engine).get_table_names()) == tables
    assert [p.ingestion_token for p in Accounts(empty_engine).list_projects()] == [project.ingestion_token]


def test_revision_ids_are_the_file_number_prefixes_so_the_fast_head_check_holds() -> None:
    """``state.upgrade`` skips Alembic when the database is at ``state.head_revision()``, which reads
    the head from the file names: every revision id must be its file's number prefix."""
    script = ScriptDirectory.from_config(_alembic_config())
    for revision in script.walk_revisions():
        assert revision.path is not None
        assert Path(revision.path).name.split("_", 1)[0] == revision.revision
    assert state.head_revision() == head_revision()


def test_a_database_at_head_is_recognised_without_alembic(empty_engine: Engine) -> None:
    assert state.current_revisions(empty_engine) == []
    state.upgrade(empty_engine)
    assert state.current_revisions(empty_engine) == [state.head_revision()]
