"""Request and response shapes of the log services, shared by the MCP tools and the REST API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class HasLogsResponse(BaseModel):
    hasLogs: bool = Field(description="Whether the project has stored any log at all.")
