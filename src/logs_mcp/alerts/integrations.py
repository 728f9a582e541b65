"""Slack workspaces registered with logs-mcp: a project's bot (or user) token, kept server-side.

A registration's id is what a Slack destination names as ``slack_workspace_id``. The token is checked for
its shape only: registering needs no network, and Slack itself answers at the first delivery. No method
here returns a token except :meth:`Integrations.slack_token`, which the Slack notifier calls.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from logs_mcp.errors import InvalidInput, NotFound
from logs_mcp.store.alert_tables import Integration
from logs_mcp.store.state import Project

SLACK: Final = "slack"
DEFAULT_SLACK_NAME: Final = "Slack"
# xoxb- bot tokens and xoxp- user tokens: dash-separated alphanumeric parts (never echoed in errors).
_SLACK_TOKEN: Final = re.compile(r"xox[bp]-[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+")
_MAX_TOKEN_LENGTH: Final = 500
_MAX_NAME_LENGTH: Final = 200


class IntegrationInfo(BaseModel):
    """A registered integration as commands and APIs show it: everything but the token."""

    id: int
    project_id: int
    kind: str
    name: str
    created_at: datetime


class Integrations:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_slack(self, project_id: int, token: str, name: str = "") -> IntegrationInfo:
        token = token.strip()
        if len(token) > _MAX_TOKEN_LENGTH or not _SLACK_TOKEN.fullmatch(token):
            raise InvalidInput(
                "This is not a Slack token: expected a bot token (xoxb-…) or a user token (xoxp-…).",
                attr="token",
            )
        name = name.strip() or DEFAULT_SLACK_NAME
        if len(name) > _MAX_NAME_LENGTH:
            raise InvalidInput(f"Ensure this field has no more than {_MAX_NAME_LENGTH} characters.", "name")
        with Session(self._engine) as session:
            if session.get(Project, project_id) is None:
                raise NotFound(f"Project {project_id} does not exist.")
            integration = Integration(project_id=project_id, kind=SLACK, name=name, bot_token=token)
            session.add(integration)
            session.commit()
            session.refresh(integration)
            return _info(integration)

    def list(self, project_id: int | None = None) -> list[IntegrationInfo]:
        """Every integration (of one project when given), oldest first."""
        query = select(Integration).order_by(col(Integration.id))
        if project_id is not None:
            query = query.where(Integration.project_id == project_id)
        with Session(self._engine) as session:
            return [_info(integration) for integration in session.exec(query)]

    def slack_token(self, project_id: int, integration_id: int) -> str | None:
        """The token a Slack delivery authenticates with; None when the integration is gone."""
        with Session(self._engine) as session:
            integration = find_slack_integration(session, project_id, integration_id)
            return integration.bot_token if integration is not None else None


def find_slack_integration(session: Session, project_id: int, integration_id: int) -> Integration | None:
    """The Slack integration ``integration_id`` if it belongs to ``project_id``."""
    query = select(Integration).where(
        Integration.id == integration_id, Integration.project_id == project_id, Integration.kind == SLACK
    )
    return session.exec(query).first()


def _info(integration: Integration) -> IntegrationInfo:
    assert integration.id is not None  # persisted rows always have one
    return IntegrationInfo(
        id=integration.id,
        project_id=integration.project_id,
        kind=integration.kind,
        name=integration.name,
        created_at=integration.created_at,
    )
