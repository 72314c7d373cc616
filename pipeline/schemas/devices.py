"""A device as a reference record (`kind: device`, on ref.devices, key its id): docs/devices.md.

It maps what a switch knows of a caller to an account, on one server (`server`) or on all (null):
a SIP user name, an IP address, an Asterisk accountcode; at least one of them. A CDR or an
authorization request that names no account is attributed through the device those match
(pipeline/reference/devices.py), and the device's `call_limit` (0: none) caps the simultaneous
calls made through it. An archived device stays in the reference data but matches nothing, and its
keys are free for another device.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from pipeline.schemas.device_keys import IpText, KeyText


def _server(value: object) -> object:
    """null, "" and "*" all mean every server."""
    if value is None or isinstance(value, str) and value.strip() in ("", "*"):
        return None
    return value.strip() if isinstance(value, str) else value


class DeviceIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["device"] = "device"
    id: Annotated[str, Field(min_length=1, max_length=200)]
    account: Annotated[str, Field(min_length=1, max_length=200)]
    server: Annotated[Annotated[str, Field(max_length=200)] | None, BeforeValidator(_server)] = None
    sip_user: KeyText = None
    ip: IpText = None
    accountcode: KeyText = None
    call_limit: Annotated[int, Field(ge=0, le=1_000_000)] = 0  # simultaneous calls through it; 0: no limit
    name: Annotated[str, Field(max_length=200)] = ""
    archived: bool = False

    @model_validator(mode="after")
    def _names_the_caller_somehow(self) -> DeviceIn:
        if self.sip_user is None and self.ip is None and self.accountcode is None:
            raise ValueError("a device needs at least one of sip_user, ip, accountcode")
        return self

    def keys(self) -> list[tuple[str, str | None, str]]:
        """(key kind, server or None, value) of every key it claims: an accountcode on its own (one
        per installation), a SIP user and an IP address per server."""
        found = []
        if self.accountcode is not None:
            found.append(("accountcode", None, self.accountcode))
        if self.sip_user is not None:
            found.append(("sip_user", self.server, self.sip_user))
        if self.ip is not None:
            found.append(("ip", self.server, self.ip))
        return found

    def where(self) -> str:
        return "every server" if self.server is None else f'server "{self.server}"'


def key_link(kind: str, server: str | None, value: str) -> str:
    """The graph's name of one claimed key (pipeline/reference/graph.py "device_keys")."""
    return "\x1f".join((kind, "" if kind == "accountcode" else server or "*", value))


def value_link(kind: str, value: str) -> str:
    """The graph's name of a key's value on any server ("device_key_values")."""
    return f"{kind}\x1f{value}"
