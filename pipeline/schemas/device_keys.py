"""What a switch knows of a caller besides an account id (docs/devices.md): a SIP user name, the IP
address the call came from, an Asterisk accountcode. A CDR carries them as `device`, an
authorization request as `sip_user`/`ip`/`accountcode`, and a device record maps them to an
account; all three read them through here, so that the same text means the same key everywhere.

An IP address is kept in its canonical form (`ipaddress`: `::1`, never `0:0::1`), and a port or
brackets a switch may add (`10.0.0.5:5060`, `[2001:db8::1]:5060`) are dropped, so `10.0.0.5` on the
device matches `10.0.0.5:5060` in the CDR.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_KEY_LENGTH = 128
_V4_WITH_PORT = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}\Z")
_V6_BRACKETED = re.compile(r"^\[([0-9A-Fa-f:.]+)\](?::\d{1,5})?\Z")


def ip_text(value: object) -> str:
    """An IPv4 or IPv6 address in canonical form; raises ValueError naming the rule."""
    if not isinstance(value, str):
        raise ValueError("must be an IP address as text")
    text = value.strip()
    for pattern in (_V4_WITH_PORT, _V6_BRACKETED):
        found = pattern.match(text)
        if found:
            text = found.group(1)
            break
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        shown = text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"
        raise ValueError(f"must be an IPv4 or IPv6 address such as 10.0.0.5 or 2001:db8::5 (got {shown!r})") from None


def key_text(value: object) -> str | None:
    """A SIP user or accountcode: text (a number is taken as its digits), trimmed; empty is none."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be text")
    text = value.strip()
    if not text:
        return None
    if len(text) > MAX_KEY_LENGTH or not text.isprintable():
        raise ValueError(f"must be printable text of at most {MAX_KEY_LENGTH} characters")
    return text


def optional_ip(value: object) -> str | None:
    if value is None or isinstance(value, str) and not value.strip():
        return None
    return ip_text(value)


KeyText = Annotated[str | None, BeforeValidator(key_text)]
IpText = Annotated[str | None, BeforeValidator(optional_ip)]


class DeviceKeys(BaseModel):
    """A CDR's `device`: what the switch knew of the caller. Other fields a switch adds are kept
    (they travel with the CDR) but never matched."""

    model_config = ConfigDict(extra="allow", frozen=True)

    sip_user: KeyText = Field(default=None, validate_default=True)
    ip: IpText = None
    accountcode: KeyText = None

    @property
    def empty(self) -> bool:
        return self.sip_user is None and self.ip is None and self.accountcode is None

    def shown(self) -> str:
        """`sip_user "1001", ip "10.0.0.5"`: what was tried, for a rejection."""
        return ", ".join(f'{name} "{value}"' for name, value in (
            ("accountcode", self.accountcode), ("sip_user", self.sip_user), ("ip", self.ip)) if value is not None)
