"""``state_timeline`` of an alert, derived from its event rows (alerts.md §2.13). Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from logs_mcp.alerts.state_machine import AlertState, EventKind

TIMELINE_SPAN: Final = timedelta(hours=24)


class TimelineEvent(Protocol):
    """What the derivation reads from an event row; :class:`AlertEvent` and stored rows both qualify."""

    @property
    def kind(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def state_before(self) -> str: ...

    @property
    def state_after(self) -> str: ...


@dataclass(frozen=True, slots=True)
class TimelineInterval:
    start: datetime
    end: datetime
    state: AlertState
    enabled: bool


_TOGGLES: Final = {EventKind.ENABLE: True, EventKind.DISABLE: False}


def state_timeline(
    events: Iterable[TimelineEvent],
    *,
    current_state: AlertState,
    current_enabled: bool,
    now: datetime,
    span: timedelta = TIMELINE_SPAN,
) -> list[TimelineInterval]:
    """Contiguous ``(state, enabled)`` intervals covering exactly ``[now − span, now]``, oldest first (§2.13).

    ``events`` are the alert's rows of every kind in any order; besides the rows inside the window only the
    latest enable/disable row before it matters (it seeds ``enabled``). Rows after ``now`` are ignored.
    Zero-length intervals (several rows at one instant) are dropped and equal neighbours merged.
    """
    if span <= timedelta(0):
        raise ValueError("span must be positive")
    window_start = now - span
    ordered = sorted(
        (event for event in events if event.created_at <= now), key=lambda event: event.created_at
    )
    in_window = [event for event in ordered if event.created_at >= window_start]
    before = [event for event in ordered if event.created_at < window_start]
    state = AlertState(in_window[0].state_before) if in_window else current_state
    enabled = _seed_enabled(before, in_window, current_enabled)
    changes = [(window_start, state, enabled)]
    for event in in_window:
        enabled = _TOGGLES.get(EventKind(event.kind), enabled)
        changes.append((event.created_at, AlertState(event.state_after), enabled))
    return _intervals(changes, now)


def _seed_enabled(before: list[TimelineEvent], in_window: list[TimelineEvent], current: bool) -> bool:
    """§2.13 step 3: the last toggle before the window, else the opposite of the first toggle in it."""
    for event in reversed(before):
        if event.kind in _TOGGLES:
            return _TOGGLES[EventKind(event.kind)]
    for event in in_window:
        if event.kind in _TOGGLES:
            return not _TOGGLES[EventKind(event.kind)]
    return current


def _intervals(changes: list[tuple[datetime, AlertState, bool]], end: datetime) -> list[TimelineInterval]:
    intervals: list[TimelineInterval] = []
    bounds = [at for at, _, _ in changes[1:]] + [end]
    for (start, state, enabled), stop in zip(changes, bounds, strict=True):
        if stop <= start:
            continue
        if intervals and (intervals[-1].state, intervals[-1].enabled) == (state, enabled):
            intervals[-1] = TimelineInterval(intervals[-1].start, stop, state, enabled)
        else:
            intervals.append(TimelineInterval(start, stop, state, enabled))
    return intervals
