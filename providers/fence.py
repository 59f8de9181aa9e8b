"""Where calls to providers may go.

An account's base URL is set by an Admin, and every call to it carries the
account's credentials: it must not be able to point them (or a "Check
connection") at this machine, the local network or a cloud metadata
service. A provider URL is therefore ``https`` (``http`` only where
``PROVIDER_ALLOW_HTTP`` allows it, for testing), and its host, once
resolved, has only public addresses: no loopback, link-local (169.254.x.x,
where metadata services answer), private, shared, reserved or multicast
address, unless ``PROVIDER_ALLOWED_HOSTS`` names the host or one of its
addresses (the tests and benchmarks name 127.0.0.1 for their loopback
providers).

Verdicts are kept for a minute per scheme, host and port, so a busy
dispatch resolves a name once, not per request. A name that does not
resolve is let through: the call itself cannot connect either.

What a provider answers is shown back only as its HTTP status and a short
sentence of plain text (``sanitised``).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from urllib.parse import urlsplit

from django.conf import settings

VERDICT_SECONDS = 60.0
_verdicts: dict[tuple, tuple[float, str]] = {}


class Fenced(Exception):
    """A URL provider calls may not go to; the message says why."""


def check(url: str) -> None:
    """Raise Fenced when ``url`` is not one provider calls may go to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise Fenced("The account's base URL has an invalid port.") from None
    host = (parts.hostname or "").lower()
    key = (scheme, host, port, settings.PROVIDER_ALLOW_HTTP, tuple(settings.PROVIDER_ALLOWED_HOSTS))
    now = time.monotonic()
    cached = _verdicts.get(key)
    if cached and cached[0] > now:
        problem = cached[1]
    else:
        problem = _problem(scheme, host, port)
        if len(_verdicts) > 1000:
            _verdicts.clear()
        _verdicts[key] = (now + VERDICT_SECONDS, problem)
    if problem:
        raise Fenced(problem)


def problem_with(url: str) -> str:
    """Why provider calls may not go to ``url`` ("" when they may)."""
    try:
        check(url)
    except Fenced as fenced:
        return str(fenced)
    return ""


def _problem(scheme: str, host: str, port: int) -> str:
    if scheme not in ("https", "http"):
        return "A provider's base URL starts with https://."
    if scheme == "http" and not settings.PROVIDER_ALLOW_HTTP:
        return "A provider's base URL must use https:// (plain http is not allowed)."
    if not host:
        return "The account's base URL has no host."
    allowed = _allowed()
    if host in allowed["names"]:
        return ""
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return ""
    for *_, address in found:
        ip = ipaddress.ip_address(address[0].split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if any(ip in network for network in allowed["networks"]):
            continue
        if not ip.is_global or ip.is_multicast:
            return (
                f"The account's base URL points at {host} ({ip}), an address on this machine "
                "or a private network; provider calls go only to public addresses."
            )
    return ""


def _allowed() -> dict:
    names, networks = set(), []
    for entry in settings.PROVIDER_ALLOWED_HOSTS:
        entry = entry.strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry)
    return {"names": names, "networks": networks}


# What of a provider's answer is shown back: a short sentence of text (and
# an error's message, where a backend put the provider's words in it).
ANSWER_CHARS = 160
MESSAGE_CHARS = 300
_MARKUP = re.compile(r"<[^>]{0,500}>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")


def sanitised(text: str, *, limit: int = ANSWER_CHARS) -> str:
    """A provider's answer as it may be shown: markup and control characters
    (direction overrides included) taken out, spaces collapsed, cut short."""
    text = _CONTROL.sub(" ", _MARKUP.sub(" ", text or ""))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
