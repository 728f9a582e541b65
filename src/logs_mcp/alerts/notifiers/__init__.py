"""Notification delivery to Slack, webhooks, Discord and Microsoft Teams (alerts.md §6.5, §6.6).

The outbox deliverer needs only this::

    notification = AlertNotification.for_check(decision, alert, project_name=..., base_url=...)
    async with Notifier(settings) as notifier:
        result = await notifier.send(notification, DeliveryTarget.of_rule(rule, integration),
                                     idempotency_key=outbox_row_id)

and reads ``result.ok`` / ``result.permanent`` / ``result.retry_after_seconds`` / ``result.error``.
"""

from logs_mcp.alerts.notifiers.notifier import Notifier
from logs_mcp.alerts.notifiers.payloads import AlertNotification, NotificationKind
from logs_mcp.alerts.notifiers.result import DeliveryResult
from logs_mcp.alerts.notifiers.senders import DeliveryTarget

__all__ = ["AlertNotification", "DeliveryResult", "DeliveryTarget", "NotificationKind", "Notifier"]
