"""The outcome of one delivery attempt, and how an HTTP answer maps to it.

The outbox deliverer needs three answers: delivered; failed, try again (maybe not before
``retry_after_seconds``); failed for good (``permanent``: retrying cannot help, e.g. a revoked token or a
404 URL). ``error`` is short and safe to show the alert's owner: it never carries a token or a secret.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

RESPONSE_EXCERPT_CHARS: Final = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryResult:
    ok: bool
    status_code: int | None = None
    retry_after_seconds: float | None = None
    error: str | None = None
    permanent: bool = False

    @property
    def retryable(self) -> bool:
        return not self.ok and not self.permanent

    @classmethod
    def delivered(cls, status_code: int) -> DeliveryResult:
        return cls(ok=True, status_code=status_code)

    @classmethod
    def retry(
        cls, error: str, *, status_code: int | None = None, retry_after_seconds: float | None = None
    ) -> DeliveryResult:
        return cls(ok=False, status_code=status_code, retry_after_seconds=retry_after_seconds, error=error)

    @classmethod
    def give_up(cls, error: str, *, status_code: int | None = None) -> DeliveryResult:
        return cls(ok=False, status_code=status_code, error=error, permanent=True)


def classify_http_response(status_code: int, headers: Mapping[str, str], body: str) -> DeliveryResult:
    """2xx delivered; 408, 429 and 5xx retried (after ``Retry-After`` when given); anything else permanent.

    Redirects count as permanent: following one could lead past the private-address check.
    """
    if 200 <= status_code < 300:
        return DeliveryResult.delivered(status_code)
    error = f"HTTP {status_code}" + (f": {excerpt}" if (excerpt := _excerpt(body)) else "")
    if status_code in (408, 429) or status_code >= 500:
        return DeliveryResult.retry(
            error, status_code=status_code, retry_after_seconds=parse_retry_after(headers.get("retry-after"))
        )
    if 300 <= status_code < 400:
        error = f"HTTP {status_code}: the receiver redirects, and redirects are not followed"
    return DeliveryResult.give_up(error, status_code=status_code)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds from now (delta-seconds or an HTTP date), or None when absent or garbled."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def _excerpt(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= RESPONSE_EXCERPT_CHARS else text[: RESPONSE_EXCERPT_CHARS - 1] + "…"
