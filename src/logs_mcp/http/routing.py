"""Route registration and request bodies shared by the REST modules."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import APIRouter, Request

from logs_mcp.errors import InvalidInput
from logs_mcp.logs.models import AGENT_FIELDS, parse_query
from logs_mcp.store.filters import LogFilters

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
Request_ = TypeVar("Request_", bound=LogFilters)
# The body is parsed by hand so a bad field is named as the client wrote it (query.dateRange.date_from).
QUERY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["query"],
                    "properties": {"query": {"type": "object", "description": "The filters (dateRange …)."}},
                }
            }
        },
    }
}


def slash_optional(router: APIRouter, *, documented_slash: bool = True) -> Callable[..., Decorator]:
    """A ``route(method, path, **options)`` decorator for ``router`` that registers ``path`` with its
    trailing slash and without it, with no redirect: a redirected POST would lose its body in many
    clients. One form is documented, the other hidden from the schema: the slashed one (the alert
    routes, as PostHog's) unless ``documented_slash`` is false (the Logs API routes)."""

    def route(method: str, path: str, **options: Any) -> Decorator:
        documented, hidden = (f"{path}/", path) if documented_slash else (path, f"{path}/")

        def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
            router.add_api_route(documented, endpoint, methods=[method], **options)
            router.add_api_route(hidden, endpoint, methods=[method], include_in_schema=False, **options)
            return endpoint

        return register

    return route


def query_post(router: APIRouter) -> Callable[..., Decorator]:
    """A ``post(path, response_model, exclude=AGENT_FIELDS)`` decorator for Logs API POSTs whose body is
    ``{"query": {...}}``: ``path`` documented, ``path/`` too; the response leaves out ``exclude`` (by
    default the fields only MCP fills in)."""
    route = slash_optional(router, documented_slash=False)

    def post(path: str, response_model: Any, exclude: frozenset[str] = AGENT_FIELDS) -> Decorator:
        options = {"response_model": response_model, "response_model_exclude": set(exclude)}
        return route("POST", path, openapi_extra=QUERY_BODY, **options)

    return post


def query_of(model: type[Request_]) -> Callable[[Request], Coroutine[Any, Any, Request_]]:
    """Dependency: the body's ``query`` object as ``model``, or a 400 naming the bad field."""

    async def dependency(request: Request) -> Request_:
        body = await json_body(request)
        return parse_query(model, body.get("query") if isinstance(body, dict) else None)

    return dependency


async def json_body(request: Request) -> Any:
    """The body of a Logs API POST as JSON (``None`` when empty); not JSON is a 400 on ``query``."""
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        raise InvalidInput('The body is not JSON; send {"query": {...}}.', attr="query") from None


async def json_object(request: Request) -> dict[str, Any]:
    """The body of an alert-API request as a JSON object; an empty body is ``{}``."""
    body = await request.body()
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(f"JSON parse error - {error}", code="parse_error") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"Invalid data. Expected a dictionary, but got {type(data).__name__}.")
    return data
