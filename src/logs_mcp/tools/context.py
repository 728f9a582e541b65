"""Who is calling a tool, and on which project.

Over HTTP the bearer API key was verified by the MCP transport (:class:`ApiKeyVerifier`); on stdio the
local user acts with the principal the server was started with.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import anyio.to_thread
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver.exceptions import ToolError

from logs_mcp.errors import LogsMcpError
from logs_mcp.logs.accounts import Accounts, Principal

P = ParamSpec("P")
R = TypeVar("R")


class ApiKeyVerifier:
    """The MCP SDK's TokenVerifier, backed by our personal API keys."""

    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            principal = await anyio.to_thread.run_sync(self._accounts.authenticate, token)
        except LogsMcpError:
            return None
        return AccessToken(
            token=token,
            client_id=f"api-key-{principal.key_id}",
            scopes=sorted(principal.scopes),
            claims={"project_ids": sorted(principal.project_ids), "key_id": principal.key_id},
        )


class CallerResolver:
    def __init__(self, local: Principal | None) -> None:
        self._local = local

    def principal(self) -> Principal:
        token = get_access_token()
        if token is not None:
            claims = token.claims or {}
            project_ids = frozenset(claims.get("project_ids", []))
            default = next(iter(project_ids)) if len(project_ids) == 1 else None
            return Principal(
                frozenset(token.scopes), project_ids, key_id=claims.get("key_id"), default_project_id=default
            )
        if self._local is None:
            raise ToolError("Not authenticated: call this server with an API key.")
        return self._local

    def project(self, scope: str, project_id: int | None) -> int:
        """The project a call acts on, after checking the caller may use it with ``scope``."""
        principal = self.principal()
        chosen = project_id if project_id is not None else principal.default_project_id
        if chosen is None:
            allowed = ", ".join(str(p) for p in sorted(principal.project_ids))
            raise ToolError(f"project_id is required: this API key may use projects {allowed}.")
        try:
            principal.authorize(scope, chosen)
        except LogsMcpError as error:
            raise ToolError(error.detail) from None
        return chosen


def tool_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Service errors become tool errors the agent can read and act on."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except LogsMcpError as error:
            field = f" (field: {error.attr})" if error.attr else ""
            raise ToolError(f"{error.detail}{field}") from None

    return wrapper
