"""Who may write devices, and what must hold once they are written (docs/devices.md). Called by the
reference write rules (pipeline.reference.ownership, pipeline.reference.consistency) with their
graph, so `ref apply` and the API refuse the same records with the same sentences.

- The admin writes any device; a reseller only devices of his own users and of himself.
- A device calls as a user or a reseller that exists and is not archived (the admin has no balance).
- Two devices that are not archived never claim the same key: the same accountcode anywhere, the
  same SIP user or IP address on the same server (an all-servers device and a device of one server
  may share a key: the server's wins there, pipeline/reference/devices.py). A reseller may not set
  such an override over another tenant's device, and a refusal never names what is not his.
"""
from __future__ import annotations

from pipeline.reference.graph import RefGraph
from pipeline.schemas.devices import DeviceIn, key_link, value_link

ADMIN_ID = "admin"


def writer_rule(graph: RefGraph, record: DeviceIn, writer: str) -> str | None:
    if writer != ADMIN_ID:
        old = graph.record("device", record.id)
        if not _is_of(graph, record.account, writer) or old is not None and not _is_of(graph, old.account, writer):
            return f'reseller "{writer}" may only write devices of his own users (device "{record.id}")'
    if record.archived:
        return None  # an archived device claims nothing
    return _clash(graph, record, writer)


def consistency_rule(graph: RefGraph, record: DeviceIn) -> str | None:
    account = graph.account(record.account)
    if account is None:
        return f'device "{record.id}": account "{record.account}" does not exist'
    if account.type == "admin":
        return (f'device "{record.id}": the admin has no balance and makes no calls; a device calls as a user '
                "or a reseller")
    if not record.archived and getattr(account, "archived", False):
        return (f'device "{record.id}": account "{account.id}" is archived: a device cannot be given to it '
                "(unarchive it first, or archive the device)")
    return None


def _clash(graph: RefGraph, record: DeviceIn, writer: str) -> str | None:
    """The key of `record` another device already claims, said as the writer may hear it."""
    for kind, server, value in record.keys():
        for other_id in graph.linked("device_keys", key_link(kind, server, value)):
            if other_id != record.id:
                return _taken(graph, record, kind, server, value, other_id, writer)
        if kind == "accountcode" or writer == ADMIN_ID:
            continue
        # a reseller's device of one server would win over another tenant's all-servers device there
        # (and his all-servers one would sit under another's per-server device): not his to do
        other_scope = None if server is not None else "*"
        for other_id in _other_scope(graph, kind, other_scope, value, server):
            if other_id != record.id and not _is_of(graph, graph.record("device", other_id).account, writer):
                return (f'{kind} "{value}" is claimed by a device of another account on '
                        f'{"every server" if server is not None else "some server"}; device "{record.id}" '
                        "cannot claim it too")
    return None


def _other_scope(graph: RefGraph, kind: str, other_scope: str | None, value: str, server: str | None) -> list[str]:
    if other_scope is None:  # the record is for one server: the all-servers claim of the key
        return list(graph.linked("device_keys", key_link(kind, None, value)))
    # the record is for every server: each one server's claim of the same value
    return [device_id for device_id in graph.linked("device_key_values", value_link(kind, value))
            if graph.record("device", device_id).server is not None]


def _taken(graph: RefGraph, record: DeviceIn, kind: str, server: str | None, value: str, other_id: str,
           writer: str) -> str:
    where = "" if kind == "accountcode" else (" on every server" if server is None else f' on server "{server}"')
    other = graph.record("device", other_id)
    if writer == ADMIN_ID or _is_of(graph, other.account, writer):
        return (f'{kind} "{value}"{where} is already claimed by device "{other_id}" (account "{other.account}"); '
                f'device "{record.id}" cannot claim it too: archive or change that device first')
    return (f'{kind} "{value}"{where} is already claimed by a device of another account; device "{record.id}" '
            "cannot claim it too")


def _is_of(graph: RefGraph, account_id: str, reseller: str) -> bool:
    """Whether the account is the reseller himself or one of his users."""
    if account_id == reseller:
        account = graph.account(account_id)
        return account is not None and account.type == "reseller"
    account = graph.account(account_id)
    return account is not None and account.type == "user" and account.parent == reseller
