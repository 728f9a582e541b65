"""Errors the services raise; each face turns them into its own shape (HTTP status, MCP tool error)."""

from __future__ import annotations


class LogsMcpError(Exception):
    """Base: ``detail`` is safe to show to the caller."""

    status = 500
    type = "server_error"
    code = "error"

    def __init__(self, detail: str, attr: str | None = None, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attr = attr
        if code:
            self.code = code


class InvalidInput(LogsMcpError):
    """Bad input; ``attr`` names the field."""

    status = 400
    type = "validation_error"
    code = "invalid_input"


class NotAuthenticated(LogsMcpError):
    status = 401
    type = "authentication_error"
    code = "not_authenticated"


class PermissionDenied(LogsMcpError):
    status = 403
    type = "authentication_error"
    code = "permission_denied"


class NotFound(LogsMcpError):
    status = 404
    type = "invalid_request"
    code = "not_found"


class Conflict(LogsMcpError):
    """The object exists but is not in a state that allows this (an export still running)."""

    status = 409
    type = "invalid_request"
    code = "conflict"


class PayloadTooLarge(LogsMcpError):
    status = 413
    type = "invalid_request"
    code = "payload_too_large"


class StoreUnavailable(LogsMcpError):
    """The log store failed in a way a retry may fix."""

    status = 503
    type = "server_error"
    code = "store_unavailable"
