"""Error bodies of the REST API: ``{"type", "code", "detail", "attr"}`` with the matching status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from logs_mcp.errors import LogsMcpError


def error_response(status: int, type_: str, code: str, detail: str, attr: str | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"type": type_, "code": code, "detail": detail, "attr": attr}
    return JSONResponse(body, status_code=status, headers=headers)


async def _service_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, LogsMcpError)
    return error_response(error.status, error.type, error.code, error.detail, error.attr)


async def _request_validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    return error_response(
        400,
        "validation_error",
        "invalid_input",
        first.get("msg", "Invalid input."),
        ".".join(location) or None,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(LogsMcpError, _service_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
