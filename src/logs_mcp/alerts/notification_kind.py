"""The kinds of event a notification is sent for, which are also the kinds of a destination's rules."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from logs_mcp.alerts.state_machine import Notification


class NotificationKind(StrEnum):
    """The event kind a notification rule listens to (§6.1), in the spec's order."""

    FIRING = "firing"
    RESOLVED = "resolved"
    BROKEN = "broken"
    ERRORED = "errored"

    @classmethod
    def of(cls, action: Notification) -> NotificationKind:
        """§2.2: fire → firing, resolve → resolved, broken → broken, error → errored."""
        if action is Notification.NONE:
            raise ValueError("a check that notifies nobody has no notification kind")
        return _KIND_OF_ACTION[action]

    @property
    def event_name(self) -> str:
        """The internal event of §6.5 (``$logs_alert_auto_disabled`` for broken)."""
        return f"$logs_alert_{self.public_name}"

    @property
    def public_name(self) -> str:
        return "auto_disabled" if self is NotificationKind.BROKEN else self.value


_KIND_OF_ACTION: Final = {
    Notification.FIRE: NotificationKind.FIRING,
    Notification.RESOLVE: NotificationKind.RESOLVED,
    Notification.BROKEN: NotificationKind.BROKEN,
    Notification.ERROR: NotificationKind.ERRORED,
}
