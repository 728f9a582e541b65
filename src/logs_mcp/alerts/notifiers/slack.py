"""Slack: ``chat.postMessage`` with the Block Kit message of §6.6, through slack-sdk, as the bot of the
Slack integration the destination names.

slack-sdk's ``WebClient`` (urllib) runs in a worker thread. (Its ``AsyncWebClient`` runs on aiohttp, as
the webhook senders now do, and would save the thread; not switched yet.) Its own retry handlers are off:
the outbox owns retries, back-off and ``Retry-After``.

Slack has no idempotency header; a retried post after a lost answer can show twice in the channel, which
is the at-least-once contract of the outbox.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Final
from urllib.error import URLError

import anyio.to_thread

from logs_mcp.alerts.notifiers.payloads import AlertNotification, slack_message
from logs_mcp.alerts.notifiers.result import DeliveryResult, parse_retry_after
from logs_mcp.alerts.notifiers.senders import DeliveryTarget

if TYPE_CHECKING:  # slack-sdk loads on the first Slack delivery, not on every start of the server
    from slack_sdk.web import SlackResponse

# Slack answers most failures with HTTP 200 and ok=false; these few are worth another try, every other
# error (invalid_auth, channel_not_found, not_in_channel, is_archived, invalid_blocks …) needs a person.
RETRYABLE_SLACK_ERRORS: Final = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackSender:
    def __init__(self, *, api_url: str, timeout_seconds: float) -> None:
        self._api_url = api_url if api_url.endswith("/") else api_url + "/"
        self._timeout_seconds = timeout_seconds

    async def send(
        self, notification: AlertNotification, target: DeliveryTarget, *, idempotency_key: str
    ) -> DeliveryResult:
        channel = target.config.get("slack_channel_id")
        if not target.slack_bot_token:
            return DeliveryResult.give_up("the Slack integration of this destination is gone")
        if not isinstance(channel, str) or not channel:
            return DeliveryResult.give_up("the destination has no slack_channel_id")
        message = slack_message(notification)
        return await anyio.to_thread.run_sync(
            self._post, target.slack_bot_token, channel, message, abandon_on_cancel=True
        )

    def _post(self, token: str, channel: str, message: dict[str, Any]) -> DeliveryResult:
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError

        # The notifier's deadline bounds the attempt; WebClient's socket timeout takes whole seconds.
        timeout = math.ceil(self._timeout_seconds)
        client = WebClient(token=token, base_url=self._api_url, timeout=timeout, retry_handlers=[])
        try:
            response = client.chat_postMessage(
                channel=channel, text=message["text"], blocks=message["blocks"], unfurl_links=False
            )
        except SlackApiError as error:
            return classify_slack_error(error.response)
        except OSError as error:  # socket timeouts and resets, and urllib's URLError wrapping them
            reason = (
                error.reason if isinstance(error, URLError) and isinstance(error.reason, OSError) else error
            )
            if isinstance(reason, TimeoutError):
                return DeliveryResult.retry("Slack did not answer in time")
            return DeliveryResult.retry(f"could not reach Slack ({type(reason).__name__})")
        return DeliveryResult.delivered(response.status_code)


def classify_slack_error(response: SlackResponse) -> DeliveryResult:
    """Slack's own error codes decide; an answer that is not Slack's JSON (a proxy's or an outage's page,
    which slack-sdk reports as a sentence) is retried like any outage."""
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or "")
    status = response.status_code
    if not _SLACK_ERROR_CODE.fullmatch(code):
        code = f"HTTP {status}"
    elif status < 500 and status != 429 and code not in RETRYABLE_SLACK_ERRORS:
        return DeliveryResult.give_up(f"Slack: {code}", status_code=status)
    retry_after = parse_retry_after(_header(response.headers, "retry-after"))
    return DeliveryResult.retry(f"Slack: {code}", status_code=status, retry_after_seconds=retry_after)


_SLACK_ERROR_CODE: Final = re.compile(r"[a-z0-9_]+")


def _header(headers: Any, name: str) -> str | None:
    # slack-sdk hands headers over as a plain dict whose key case depends on the server.
    for key, value in dict(headers or {}).items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None
