"""Who is calling, when a CDR or an authorization request names no account: the one resolver both
use (the rate stage, pipeline/cdr/process.py; the authorizer, pipeline/authorize/decide.py).

Match order (docs/devices.md): the accountcode; then the SIP user; then the IP address. A SIP user
or an IP address matches the device of the call's server first and an all-servers device after
it; an accountcode is one per installation, and matches when its device is for the call's server
or for every server. Archived devices match nothing. Every lookup is a dict hit: the book keeps
the devices indexed by each key (DeviceIndex), updated per record.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.schemas.device_keys import DeviceKeys
from pipeline.schemas.devices import DeviceIn


class DeviceIndex:
    """Devices by id, and the ids of the devices that are not archived by each key they claim."""

    def __init__(self) -> None:
        self._by_id: dict[str, DeviceIn] = {}
        self._accountcodes: dict[str, str] = {}  # accountcode -> device id
        self._sip_users: dict[tuple[str | None, str], str] = {}  # (server or None, SIP user) -> device id
        self._ips: dict[tuple[str | None, str], str] = {}  # (server or None, IP address) -> device id

    def put(self, device: DeviceIn) -> None:
        self.remove(device.id)
        self._by_id[device.id] = device
        if device.archived:
            return
        for table, key in self._keys(device):
            table[key] = device.id  # two live claims of one key are refused on write; the last wins

    def remove(self, device_id: str) -> None:
        old = self._by_id.pop(device_id, None)
        if old is None:
            return
        for table, key in self._keys(old):
            if table.get(key) == device_id:
                del table[key]

    def _keys(self, device: DeviceIn) -> list[tuple[dict, object]]:
        keys: list[tuple[dict, object]] = []
        if device.accountcode is not None:
            keys.append((self._accountcodes, device.accountcode))
        if device.sip_user is not None:
            keys.append((self._sip_users, (device.server, device.sip_user)))
        if device.ip is not None:
            keys.append((self._ips, (device.server, device.ip)))
        return keys

    def copy(self) -> DeviceIndex:
        other = DeviceIndex()
        other._by_id, other._accountcodes = dict(self._by_id), dict(self._accountcodes)
        other._sip_users, other._ips = dict(self._sip_users), dict(self._ips)
        return other

    def get(self, device_id: str) -> DeviceIn | None:
        return self._by_id.get(device_id)

    def all(self) -> list[DeviceIn]:
        return list(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def match(self, server_id: str, keys: DeviceKeys) -> DeviceIn | None:
        """The device these keys name on this server, by the match order above; None if none."""
        if keys.accountcode is not None:
            found = self._by_id.get(self._accountcodes.get(keys.accountcode, ""))
            if found is not None and found.server in (None, server_id):
                return found
        for table, value in ((self._sip_users, keys.sip_user), (self._ips, keys.ip)):
            if value is not None:
                device_id = table.get((server_id, value)) or table.get((None, value))
                if device_id is not None:
                    return self._by_id[device_id]
        return None


@dataclass(frozen=True, slots=True)
class Caller:
    """Whom a call is attributed to: the account, and the device that named it."""

    account: str
    device: DeviceIn


def resolve_caller(book, server_id: str, keys: DeviceKeys | None, device_id: str = "") -> Caller | str:
    """The caller the device keys (or a device's own id, as an authorization request may give it)
    name on `server_id`; otherwise a sentence of what was tried, for the rejection or the refusal:
    `no account; no device for sip_user "1001", ip "10.0.0.5" on server "ast1"`."""
    devices: DeviceIndex = book.devices
    if device_id:
        found = devices.get(device_id)
        if found is not None and not found.archived and found.server in (None, server_id):
            return Caller(found.account, found)
    if keys is not None and not keys.empty:
        found = devices.match(server_id, keys)
        if found is not None:
            return Caller(found.account, found)
    return f"no account; {tried(server_id, keys, device_id)}"


def tried(server_id: str, keys: DeviceKeys | None, device_id: str = "") -> str:
    names = [] if keys is None else [keys.shown()]
    if device_id:
        names.insert(0, f'id "{device_id}"')
    named = ", ".join(name for name in names if name) or "no sip_user, ip or accountcode"
    return f'no device for {named} on server "{server_id}"'
