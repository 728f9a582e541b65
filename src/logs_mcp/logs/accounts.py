"""Projects, their ingestion tokens, and personal API keys with scopes: who may see which logs."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from logs_mcp.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from logs_mcp.store.state import ApiKey, Project, utcnow

READ = "logs:read"
WRITE = "logs:write"
SCOPES = (READ, WRITE)
KEY_PREFIX = "lmk_"
TOKEN_PREFIX = "lmi_"
# Writing last_used_at on every request would serialise reads on SQLite; once a minute is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the scopes they hold and the projects they may use."""

    scopes: frozenset[str]
    project_ids: frozenset[int]
    key_id: int | None = None
    default_project_id: int | None = field(default=None)

    def authorize(self, scope: str, project_id: int) -> None:
        if project_id not in self.project_ids:
            raise PermissionDenied(f"This API key may not access project {project_id}.")
        if scope not in self.scopes:
            raise PermissionDenied(f"This action needs the '{scope}' scope, which this API key lacks.")


@dataclass(frozen=True)
class NewApiKey:
    key: str
    record: ApiKey


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(scopes: Iterable[str]) -> list[str]:
    cleaned = sorted({scope.strip() for scope in scopes if scope.strip()})
    unknown = [scope for scope in cleaned if scope not in SCOPES]
    if unknown or not cleaned:
        raise InvalidInput(f"scopes must be a non-empty subset of {', '.join(SCOPES)}", attr="scopes")
    return cleaned


class Accounts:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._token_cache: dict[str, int] = {}

    def create_project(self, name: str) -> Project:
        if not name.strip():
            raise InvalidInput("name must not be empty", attr="name")
        project = Project(name=name.strip(), ingestion_token=TOKEN_PREFIX + secrets.token_urlsafe(24))
        with Session(self._engine) as session:
            session.add(project)
            session.commit()
            session.refresh(project)
        return project

    def get_project(self, project_id: int) -> Project:
        with Session(self._engine) as session:
            project = session.get(Project, project_id)
        if project is None:
            raise NotFound(f"Project {project_id} does not exist.")
        return project

    def list_projects(self) -> list[Project]:
        with Session(self._engine) as session:
            return list(session.exec(select(Project).order_by(Project.id)))  # type: ignore[arg-type]

    def project_for_ingestion_token(self, token: str) -> int | None:
        if token in self._token_cache:
            return self._token_cache[token]
        with Session(self._engine) as session:
            project = session.exec(select(Project).where(Project.ingestion_token == token)).first()
        if project is None or project.id is None:
            return None
        self._token_cache[token] = project.id
        return project.id

    def create_api_key(self, project_ids: Iterable[int], scopes: Iterable[str], label: str = "") -> NewApiKey:
        ids = sorted(set(project_ids))
        if not ids:
            raise InvalidInput("an API key needs at least one project", attr="project_ids")
        for project_id in ids:
            self.get_project(project_id)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKey(
            label=label,
            key_hash=hash_secret(key),
            mask=key[:10],
            scopes=parse_scopes(scopes),
            project_ids=ids,
        )
        with Session(self._engine) as session:
            session.add(record)
            session.commit()
            session.refresh(record)
        return NewApiKey(key=key, record=record)

    def authenticate(self, key: str | None) -> Principal:
        """The principal behind a personal API key, or NotAuthenticated."""
        if not key:
            raise NotAuthenticated("Authentication credentials were not provided.")
        with Session(self._engine) as session:
            record = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_secret(key))).first()
            if record is None:
                raise NotAuthenticated("Invalid API key.")
            now = utcnow()
            last = record.last_used_at
            if last is None or now - last.replace(tzinfo=now.tzinfo) > LAST_USED_RESOLUTION:
                record.last_used_at = now
                session.add(record)
                session.commit()
                session.refresh(record)
            return Principal(
                scopes=frozenset(record.scopes), project_ids=frozenset(record.project_ids), key_id=record.id
            )
