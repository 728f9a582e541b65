"""Notification delivery to Slack, webhooks, Discord and Microsoft Teams (alerts.md §6.5, §6.6)."""
