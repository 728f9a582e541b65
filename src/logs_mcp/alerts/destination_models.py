"""Request and response shapes of alert destinations (alerts.md §6), shared by the REST routes and the MCP
tools, and the pure per-type validation of a destination (§6.2, the newer shared validator's messages).

A destination is a group of one notification rule per event kind; the API calls the rules' ids
``hog_function_ids`` (PostHog's name). What a response shows of a destination is "safe config": Slack ids
and names, and URLs cut down to what identifies them — never a webhook secret, a Slack token, or the
secret part of a Discord or Teams URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, TypeAdapter, ValidationError, field_validator
from pydantic_core import ErrorDetails

from logs_mcp.alerts.models import invalid_input
from logs_mcp.alerts.notification_kind import NotificationKind
from logs_mcp.errors import InvalidInput

RULE_KINDS: Final[tuple[str, ...]] = tuple(kind.value for kind in NotificationKind)
"""One notification rule per kind, created in this order (§6.1); the 201 lists their ids in it."""
if TYPE_CHECKING:
    RuleKind = str
else:  # the kinds as a Literal, so a rule's kind is validated and documented as the plain strings it is
    RuleKind = Literal[RULE_KINDS]
_DISPLAY_KINDS: Final = {
    "firing": "firing",
    "resolved": "resolved",
    "broken": "auto-disabled",
    "errored": "errored",
}

DestinationType = Literal["slack", "webhook", "discord", "teams"]
LABELS: Final[dict[str, str]] = {
    "slack": "Slack",
    "webhook": "Webhook",
    "teams": "Microsoft Teams",
    "discord": "Discord",
}
REQUIRED_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "slack": ("slack_workspace_id", "slack_channel_id"),
    "webhook": ("webhook_url",),
    "teams": ("webhook_url",),
    "discord": ("webhook_url",),
}
UNKNOWN_TYPE_MESSAGE: Final = (
    "Choose a supported destination type: "
    + ", ".join(f"{label} ({type_})" for type_, label in LABELS.items())
    + "."
)
DISCORD_URL_MESSAGE: Final = (
    "Enter a Discord webhook URL in the format https://discord.com/api/webhooks/{id}/{token}."
)
NOT_THIS_ALERTS_MESSAGE: Final = "One or more HogFunctions do not belong to this alert."
_HTTP_URL: Final = TypeAdapter(HttpUrl)
ModelT = TypeVar("ModelT", bound=BaseModel)


# --- requests --------------------------------------------------------------------------------------


class DestinationRequest(BaseModel):
    """Body of ``POST …/alerts/{id}/destinations/``: the type and that type's fields (others are ignored)."""

    model_config = ConfigDict(extra="ignore")

    type: str | None = Field(None, description="slack, webhook, discord or teams.")
    slack_workspace_id: int | None = Field(
        None, description="slack: id of a Slack integration of this project (`logs-mcp integrations list`)."
    )
    slack_channel_id: str | None = Field(
        None, max_length=200, description="slack: channel id, e.g. C0123ABC."
    )
    slack_channel_name: str | None = Field(
        None, max_length=200, description="slack: channel name, only for display (optional)."
    )
    webhook_url: str | None = Field(
        None,
        max_length=2000,
        description=(
            "webhook/teams: the http(s) URL to POST to; discord: "
            "https://discord.com/api/webhooks/{id}/{token}. Loopback, private and link-local addresses are "
            "refused."
        ),
    )
    webhook_secret: str | None = Field(
        None,
        max_length=200,
        description=(
            "webhook (optional): signs each request (HMAC-SHA256 of the body). Stored server-side, never "
            "returned."
        ),
    )

    @field_validator("slack_channel_id", "slack_channel_name", "webhook_url", "webhook_secret")
    @classmethod
    def _stripped(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None


class DestinationDeleteRequest(BaseModel):
    """Body of ``POST …/alerts/{id}/destinations/delete/``."""

    model_config = ConfigDict(extra="ignore")

    hog_function_ids: list[UUID] = Field(
        min_length=1,
        description="Notification rule ids of this alert (all four of a destination removes it entirely).",
    )


def parse_request(model: type[ModelT], raw: Mapping[str, Any]) -> ModelT:
    """Validate ``raw``; the first error becomes an :class:`InvalidInput` worded like DRF's."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise _drf_error(error.errors()[0]) from None


def _drf_error(error: ErrorDetails) -> InvalidInput:
    attr = str(error["loc"][0]) if error["loc"] else None
    kind = error["type"]
    if kind == "too_short":
        return InvalidInput("This list may not be empty.", attr=attr, code="empty")
    if kind == "list_type" and error.get("input") is not None:
        got = type(error["input"]).__name__
        return InvalidInput(f'Expected a list of items but got type "{got}".', attr=attr, code="not_a_list")
    if kind.startswith("uuid"):
        return InvalidInput("Must be a valid UUID.", attr=attr, code="invalid")
    return invalid_input(error)


# --- validation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidDestination:
    """A destination that passed §6.2: what its rules store (``config``) and sign with (``secret``)."""

    type: DestinationType
    config: dict[str, Any]
    secret: str | None = None

    @property
    def url(self) -> str | None:
        url: str | None = self.config.get("webhook_url")
        return url


def validate_destination(request: DestinationRequest) -> ValidDestination:
    """§6.2 in order: the type, its required fields (one missing names it, several are listed), then the
    fields' formats. Pure; whether the Slack integration exists and the URL is public are checked by the
    service."""
    type_ = request.type
    if type_ is None:
        raise InvalidInput("This field is required.", attr="type", code="required")
    if type_ not in LABELS:
        raise InvalidInput(UNKNOWN_TYPE_MESSAGE, attr="type", code="invalid_choice")
    label = LABELS[type_]
    missing = [field for field in REQUIRED_FIELDS[type_] if not getattr(request, field)]
    if len(missing) == 1:
        raise InvalidInput(f"{missing[0]} is required for {label} destinations.", attr=missing[0])
    if missing:
        raise InvalidInput(f"{label} destinations require {' and '.join(missing)}.")
    if request.webhook_secret and type_ != "webhook":
        raise InvalidInput("webhook_secret is only used by Webhook destinations.", attr="webhook_secret")
    if type_ == "slack":
        channel_name = (request.slack_channel_name or "").removeprefix("#")
        config = {
            "slack_workspace_id": request.slack_workspace_id,
            "slack_channel_id": request.slack_channel_id,
            "slack_channel_name": channel_name,
        }
        return ValidDestination("slack", config)
    url = request.webhook_url or ""
    if type_ == "discord":
        if not is_discord_webhook_url(url):
            raise InvalidInput(DISCORD_URL_MESSAGE, attr="webhook_url")
        return ValidDestination("discord", {"webhook_url": url})
    _check_http_url(url)
    if type_ == "teams":
        return ValidDestination("teams", {"webhook_url": url})
    return ValidDestination("webhook", {"webhook_url": url}, secret=request.webhook_secret or None)


def is_discord_webhook_url(url: str) -> bool:
    """§6.2: https, host exactly discord.com, path /api/webhooks/<id>/<token>, no query or fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    segments = parts.path.split("/")
    return (
        parts.scheme == "https"
        and parts.netloc == "discord.com"
        and not parts.query
        and not parts.fragment
        and len(segments) == 5
        and segments[:3] == ["", "api", "webhooks"]
        and all(segments[3:])
    )


def _check_http_url(url: str) -> None:
    try:
        _HTTP_URL.validate_python(url)
    except ValidationError:
        raise InvalidInput("Enter a valid URL.", attr="webhook_url", code="invalid") from None
    if any(character.isspace() for character in url):
        raise InvalidInput("Enter a valid URL.", attr="webhook_url", code="invalid")


# --- display ---------------------------------------------------------------------------------------


def shown_url(type_: str, url: str) -> str:
    """A URL cut down to what identifies it without what authorises it: no credentials, query or fragment;
    a Discord URL keeps its webhook id but not its token; a Teams URL (whose path is the secret) keeps its
    host only."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    if type_ == "discord":
        return f"{origin}{parts.path.rsplit('/', 1)[0]}/…"
    if type_ == "teams":
        return f"{origin}/…"
    return origin + parts.path + ("?…" if parts.query else "")


def rule_name(alert_name: str, kind: str, type_: str, config: Mapping[str, Any]) -> str:
    """§6.3: ``Logs alert — <alert> (<kind>) → <where>``, e.g. ``→ Slack #alerts``."""
    if type_ == "slack":
        target = f"Slack #{config.get('slack_channel_name') or 'channel'}"
    elif type_ == "webhook":
        target = f"Webhook {shown_url(type_, config['webhook_url'])}"
    else:
        target = LABELS[type_]
    return f"Logs alert — {alert_name} ({_DISPLAY_KINDS[kind]}) → {target}"


# --- responses -------------------------------------------------------------------------------------


class DestinationCreated(BaseModel):
    """201 of a create: one notification rule id per kind, in the order firing, resolved, broken, errored."""

    hog_function_ids: list[UUID]


class NotificationRuleInfo(BaseModel):
    id: UUID = Field(description="The rule's id (a hog_function_id).")
    kind: RuleKind
    name: str


class Destination(BaseModel):
    """One destination of an alert with its rules, showing only safe configuration."""

    id: UUID
    type: DestinationType
    hog_function_ids: list[UUID] = Field(
        description="Its rules' ids in kind order; pass them all to the delete to remove the destination."
    )
    rules: list[NotificationRuleInfo]
    slack_workspace_id: int | None = None
    slack_channel_id: str | None = None
    slack_channel_name: str | None = None
    webhook_url: str | None = Field(
        None, description="The URL without credentials, query or secret path parts."
    )
    signed: bool = Field(False, description="Webhook requests carry an HMAC-SHA256 signature.")
    created_at: datetime


class DestinationList(BaseModel):
    results: list[Destination]
