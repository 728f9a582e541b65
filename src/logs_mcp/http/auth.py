"""Personal API key authentication for REST routes: a dependency per scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from logs_mcp.logs.accounts import READ, WRITE, Principal
from logs_mcp.services import Services


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def project_access(scope: str) -> Callable[..., object]:
    """Dependency: authenticate the key, check it may use ``project_id`` with ``scope``, return the id.

    Scope and project are checked before the project is looked up, so a key never learns whether a
    project it may not use exists.
    """

    async def dependency(request: Request, project_id: Annotated[int, Path(ge=1)]) -> int:
        services = services_of(request)
        principal: Principal = await run_in_threadpool(services.accounts.authenticate, bearer_token(request))
        principal.authorize(scope, project_id)
        await run_in_threadpool(services.accounts.get_project, project_id)
        request.state.principal = principal  # who acted, for routes that record it (alert created_by)
        return project_id

    return dependency


ReadProject = Annotated[int, Depends(project_access(READ))]
WriteProject = Annotated[int, Depends(project_access(WRITE))]
ServicesDep = Annotated[Services, Depends(services_of)]
