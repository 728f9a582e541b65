"""Where notifications may be sent: never to loopback, private or link-local addresses (a webhook URL must
not let an API key reach the server's own network), unless the operator allows it on purpose with
``LOGS_MCP_ALLOW_PRIVATE_WEBHOOKS=true`` (a self-hosted receiver next to logs-mcp).

Checked when a destination is created and again by the notifier right before each delivery: a name that
resolved to a public address at creation may resolve to an internal one later (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Final
from urllib.parse import urlsplit

ALLOW_PRIVATE_ENV: Final = "LOGS_MCP_ALLOW_PRIVATE_WEBHOOKS"

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """The URL may not receive notifications; the message says why and is safe to show the caller."""


def ensure_public_url(url: str, *, allow_private: bool) -> None:
    """Raise :class:`UnsafeUrl` unless every address ``url``'s host resolves to is public.

    A literal IP is judged as is; a name is resolved with ``socket.getaddrinfo`` and refused when it does
    not resolve or when any of its addresses is not public (one bad record is enough to be steered to).
    """
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise UnsafeUrl("The URL has no host.")
    for address in _addresses(host, parts.port or (443 if parts.scheme == "https" else 80)):
        category = non_public_category(address)
        if category is not None:
            shown = host if host == str(address) else f"{host} resolves to {address}, which"
            raise UnsafeUrl(
                f"{shown} is a {category} address: notifications are only sent to public addresses "
                f"unless {ALLOW_PRIVATE_ENV}=true."
            )


def non_public_category(address: IpAddress) -> str | None:
    """Why ``address`` is not a public unicast address ("loopback", "private" …), or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 reaches 127.0.0.1
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "reserved"
    return None


def _addresses(host: str, port: int) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass  # a name, not a literal address
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeUrl(f"The host {host} could not be resolved ({_reason(error)}).") from None
    # Scoped IPv6 results ("fe80::1%eth0") carry a zone the ipaddress module does not parse.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _reason(error: Exception) -> str:
    return error.strerror if isinstance(error, OSError) and error.strerror else str(error)
