"""The private-address guard the destination service and the notifier share: which addresses are public,
literal addresses judged without DNS, names judged by every address they resolve to, and the opt-out."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from logs_mcp.alerts.url_safety import UnsafeUrl, ensure_public_url, non_public_category


@pytest.mark.parametrize(
    ("address", "category"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("100.64.0.1", "reserved"),
        ("93.184.216.34", None),
        ("2606:4700::1", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_categories(address: str, category: str | None) -> None:
    assert non_public_category(ipaddress.ip_address(address)) == category


def test_names_are_judged_by_every_address_and_literals_need_no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []
    answers = {"public.example": ["93.184.216.34"], "split.example": ["93.184.216.34", "10.9.8.7"]}

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    ensure_public_url("https://public.example/hook", allow_private=False)
    ensure_public_url("https://93.184.216.34:8443/hook", allow_private=False)
    with pytest.raises(
        UnsafeUrl, match=r"^split\.example resolves to 10\.9\.8\.7, which is a private address"
    ):
        ensure_public_url("https://split.example/hook", allow_private=False)
    with pytest.raises(UnsafeUrl, match=r"^The host gone\.example could not be resolved"):
        ensure_public_url("https://gone.example/hook", allow_private=False)
    with pytest.raises(UnsafeUrl, match=r"^10\.0\.0\.1 is a private address"):
        ensure_public_url("http://10.0.0.1/hook", allow_private=False)
    assert looked_up == ["public.example", "split.example", "gone.example"]

    ensure_public_url("http://10.0.0.1/hook", allow_private=True)
    ensure_public_url("http://split.example/hook", allow_private=True)
    assert looked_up == ["public.example", "split.example", "gone.example"]  # the opt-out resolves nothing
