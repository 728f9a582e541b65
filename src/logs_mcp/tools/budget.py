"""Keeps MCP tool results inside the token budget (``settings.mcp_token_budget``, tokens ≈ chars/4).

A result is a pydantic model with the :class:`~logs_mcp.logs.models.AgentNotes` fields. It is sent
once as compact JSON text and once as structured content (the SDK would otherwise add a second,
pretty-printed copy as text); the budget applies to the JSON text, which is what the model reads.

Usage in a tool::

    response = fit_list(response, "results", budget, hint="narrow the window", adjust=fix_cursor)
    return tool_result(response)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel
from pydantic_core import to_json

from logs_mcp.logs.queries import LogQueries
from logs_mcp.store.filters import LogFilters

CHARS_PER_TOKEN = 4
# Room left for what ``adjust`` and the hint add after the list was cut (a cursor, one sentence).
RESERVED_CHARS = 600
ELLIPSIS = "…[truncated]"

M = TypeVar("M", bound=BaseModel)


def compact_json(payload: BaseModel) -> str:
    return payload.model_dump_json(by_alias=True)


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Budget:
    tokens: int

    @property
    def chars(self) -> int:
        return self.tokens * CHARS_PER_TOKEN

    def fits(self, payload: BaseModel) -> bool:
        return len(compact_json(payload)) <= self.chars


def fit_list(
    payload: M,
    field: str,
    budget: Budget,
    *,
    hint: str,
    adjust: Callable[[M, int], M] | None = None,
) -> M:
    """``payload`` with the list ``field`` cut to the leading items that fit in ``budget``.

    Unchanged when it fits. Otherwise ``truncated`` is set, ``hint`` says how to get the rest, and
    ``adjust(cut_payload, kept)`` may fix fields that depend on the cut (a page's ``nextCursor``).
    """
    if budget.fits(payload):
        return payload
    items: Sequence[object] = getattr(payload, field)
    empty = len(compact_json(payload.model_copy(update={field: []})))
    room = budget.chars - empty - RESERVED_CHARS - len(hint)
    kept = 0
    for item in items:
        room -= len(to_json(item, by_alias=True)) + (1 if kept else 0)
        if room < 0:
            break
        kept += 1
    while True:
        cut = payload.model_copy(update={field: list(items[:kept]), "truncated": True, "hint": hint})
        if adjust is not None:
            cut = adjust(cut, kept)
        if budget.fits(cut) or kept == 0:
            return cut
        kept -= 1


def shorten(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters, marked as cut."""
    if len(text) <= max_chars:
        return text
    return text[: max(max_chars - len(ELLIPSIS), 0)] + ELLIPSIS


def tool_result(payload: BaseModel) -> CallToolResult:
    """The structured result plus one compact JSON copy as text (no pretty-printed duplicate)."""
    text = compact_json(payload)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=json.loads(text))


def empty_result_hint(filters: LogFilters, window: tuple[datetime, datetime], project_has_logs: bool) -> str:
    """One line on why nothing matched, naming only the suspects this query has."""
    if not project_has_logs:
        return "This project has no logs at all yet: check the OTLP exporter's URL and ingestion token."
    start, end = (moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in window)
    tips = [f"Nothing matched in [{start}, {end}) UTC: try a wider dateRange (e.g. -24h or -7d)"]
    if filters.service_names:
        tips.append("serviceNames match exactly and case-sensitively (list them with logs-services)")
    if filters.severity_levels:
        tips.append("severityLevels are lowercase trace|debug|info|warn|error|fatal")
    if filters.search_term:
        tips.append("searchTerm is a literal substring of the body, not a pattern")
    if any(True for _ in filters.filter_group.leaves()):
        tips.append("check filter keys and values with logs-attributes-list / logs-attribute-values-list")
    return "; ".join(tips) + "."


@dataclass(frozen=True)
class Answers:
    """How the read tools answer: within ``budget``, and with a hint on why when nothing matched."""

    budget: Budget
    queries: LogQueries

    def empty(self, response: M, project_id: int, filters: LogFilters) -> CallToolResult:
        """``response`` (which found nothing) with a hint naming the suspects of ``filters``."""
        window = self.queries.window(filters)
        hint = empty_result_hint(filters, window, self.queries.has_logs(project_id).hasLogs)
        return tool_result(response.model_copy(update={"hint": hint}))

    def listed(
        self, response: M, field: str, project_id: int, filters: LogFilters, *, cut_hint: str
    ) -> CallToolResult:
        """``response`` with the hint of :meth:`empty` when the list ``field`` is empty, else cut to the
        budget."""
        if not getattr(response, field):
            return self.empty(response, project_id, filters)
        return tool_result(fit_list(response, field, self.budget, hint=cut_hint))
