"""Route registration shared by the REST modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def slash_optional(router: APIRouter) -> Callable[..., Decorator]:
    """A ``route(method, path, **options)`` decorator for ``router`` that registers ``path`` with its
    trailing slash (documented, as PostHog's) and without it (hidden from the schema), with no redirect:
    a redirected POST would lose its body in many clients."""

    def route(method: str, path: str, **options: Any) -> Decorator:
        def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
            router.add_api_route(f"{path}/", endpoint, methods=[method], **options)
            router.add_api_route(path, endpoint, methods=[method], include_in_schema=False, **options)
            return endpoint

        return register

    return route
