"""One entry point for the outbox deliverer: ``await notifier.send(notification, target, idempotency_key=…)``.

It picks the sender of the target's type, bounds the whole attempt (address check, connect, answer) by
``settings.delivery_timeout_seconds``, and always returns a :class:`DeliveryResult`: network trouble never
surfaces as an exception.
"""

from __future__ import annotations

from types import TracebackType
from urllib.request import getproxies_environment

import aiohttp
import anyio

from logs_mcp.alerts.notifiers.payloads import AlertNotification
from logs_mcp.alerts.notifiers.result import DeliveryResult
from logs_mcp.alerts.notifiers.senders import DeliveryTarget, HttpSender, Sender
from logs_mcp.alerts.notifiers.slack import SlackSender
from logs_mcp.config import Settings


class Notifier:
    """Sends notifications to every destination type. Create it in a running (asyncio) event loop and use
    as ``async with Notifier(settings) as notifier`` (or call :meth:`aclose`), so the shared HTTP connection
    pool is closed."""

    def __init__(self, settings: Settings) -> None:
        self._timeout_seconds = settings.delivery_timeout_seconds
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=settings.delivery_concurrency),
            timeout=aiohttp.ClientTimeout(total=self._timeout_seconds),
            # One pool for every destination: a receiver's cookies must not reach another one.
            cookie_jar=aiohttp.DummyCookieJar(),
            # HTTP(S)_PROXY and NO_PROXY are honoured when set; aiohttp then looks them up in a worker
            # thread for every request, a cost not worth paying without them.
            trust_env=bool(getproxies_environment()),
        )
        http = HttpSender(self._session, allow_private=settings.allow_private_webhooks)
        slack = SlackSender(api_url=settings.slack_api_url, timeout_seconds=self._timeout_seconds)
        self._senders: dict[str, Sender] = {"slack": slack, "webhook": http, "discord": http, "teams": http}

    async def send(
        self, notification: AlertNotification, target: DeliveryTarget, *, idempotency_key: str
    ) -> DeliveryResult:
        """Deliver once. ``idempotency_key`` must be the same on every retry of this notification to this
        target (e.g. the outbox row's id), so receivers can drop duplicates."""
        if not idempotency_key:
            raise ValueError("idempotency_key must not be empty")
        with anyio.move_on_after(self._timeout_seconds):
            return await self._senders[target.type].send(
                notification, target, idempotency_key=idempotency_key
            )
        return DeliveryResult.retry(f"no answer within {self._timeout_seconds:g}s")

    async def aclose(self) -> None:
        await self._session.close()

    async def __aenter__(self) -> Notifier:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
