"""A plain-text account of one check that an agent can quote (issue 4, "beyond PostHog").

It names the M windows with their bounds and counts, the N-of-M tally, the threshold, the state change and
why a notification was or was not sent. Store it on the check row:
``decision.event(explain_check(decision))``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from logs_mcp.alerts.state_machine import (
    MAX_CONSECUTIVE_FAILURES,
    AlertState,
    BreachTally,
    CheckDecision,
    CheckFailure,
    NotificationReason,
    ThresholdOperator,
    WindowCounts,
)

_OPERATOR_TEXT: Final = {ThresholdOperator.ABOVE: ">", ThresholdOperator.BELOW: "<"}

_OUTCOMES: Final = {
    NotificationReason.CONDITION_MET: "Fire notification sent.",
    NotificationReason.CONDITION_CLEARED: "Resolve notification sent.",
    NotificationReason.STILL_FIRING: "No notification: the alert was already firing (no re-notification).",
    NotificationReason.WAITING: "No notification: this window breached but too few of the last checks did.",
    NotificationReason.OK: "No notification: the condition is not met.",
}


def explain_check(decision: CheckDecision) -> str:
    """The explanation of ``decision`` (see the module docstring)."""
    reason = decision.reason
    if reason is NotificationReason.BROKEN:
        return "Not evaluated: the alert is broken. Reset, disable, edit or snooze it to resume checks."
    if reason is NotificationReason.SNOOZED:
        return f"Not evaluated: snoozed until {_at(decision.before.snooze_until)}."
    if decision.failure is not None:
        return _explain_failure(decision, decision.failure)
    if decision.observed is None or decision.tally is None:
        raise ValueError("a successful check carries its windows and tally")
    lines = [
        *_window_lines(decision.observed, decision.tally, decision),
        _tally_line(decision.tally),
        f"State {decision.before.state} → {decision.after.state}. {_notification_line(decision)}",
    ]
    return "\n".join(lines)


def _window_lines(observed: WindowCounts, tally: BreachTally, decision: CheckDecision) -> list[str]:
    rule = decision.rule
    minutes = observed.window // timedelta(minutes=1)
    operator = _OPERATOR_TEXT[rule.threshold_operator]
    lines = [
        f"Counted {tally.considered} window(s) of {minutes} min; breach when count {operator} "
        f"{rule.threshold_count}:"
    ]
    # Oldest first reads like a timeline; k is the window's distance in checks from the current one.
    for k in reversed(range(tally.considered)):
        start, end = observed.bounds(k)
        count = observed.counts[k]
        flag = "breached" if rule.breaches(count) else "ok"
        current = " (current)" if k == 0 else ""
        lines.append(f"  [{_at(start)}, {_at(end)}): {count} {flag}{current}")
    return lines


def _tally_line(tally: BreachTally) -> str:
    verdict = "condition met" if tally.condition_met else "condition not met"
    return (
        f"{tally.breaches} of the last {tally.considered} check(s) breached "
        f"(need {tally.needed} of {tally.periods}): {verdict}."
    )


def _notification_line(decision: CheckDecision) -> str:
    if decision.reason is not NotificationReason.COOLDOWN:
        return _OUTCOMES[decision.reason]
    last = decision.before.last_notified_at
    cooldown = decision.rule.cooldown_minutes
    allowed = last + timedelta(minutes=cooldown) if last else None
    kind = "Fire" if decision.after.state is AlertState.FIRING else "Resolve"
    return (
        f"{kind} notification suppressed by cooldown: last notification at {_at(last)}, cooldown "
        f"{cooldown} min, next allowed at {_at(allowed)}."
    )


def _explain_failure(decision: CheckDecision, failure: CheckFailure) -> str:
    head = f"Check failed ({failure.code}): {failure.message}"
    state = decision.after.state
    if decision.reason is NotificationReason.TRANSIENT_ERROR:
        return (
            f"{head}\nTransient errors are skipped: they never count toward broken. State {state} and "
            f"failure count {decision.after.consecutive_failures} unchanged; no notification."
        )
    count = f"Failure {decision.after.consecutive_failures} of {MAX_CONSECUTIVE_FAILURES} in a row"
    if decision.reason is NotificationReason.FAILURE_LIMIT:
        return f"{head}\n{count}: the alert is now broken and stops being checked. Broken notification sent."
    tail = (
        "Error notification sent (first failure of this streak)."
        if decision.reason is NotificationReason.FIRST_FAILURE
        else "No notification: this failure streak was already notified."
    )
    return f"{head}\n{count}; errors never change the firing state (still {state}). {tail}"


def _at(instant: datetime | None) -> str:
    return instant.isoformat() if instant else "never"
