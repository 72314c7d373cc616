"""Archived accounts and tariffs: kept, never deleted, and given to nothing new.

An account or tariff that calls and invoices name is never deleted (the API and the CLI have no way
to; a tombstone on a ref topic is the only way, and nothing of ours writes one): it is archived
instead, as MOR hides a user that has calls. An archived record stays in the book, so old calls
re-rate and old invoices print, but:
- nothing may be assigned to it: a record that is not archived may not sit under an archived
  parent, pay by an archived tariff, hold or be on one (an account's parent and tariff, a
  provider's, a card group's and a DID's tariff, a DID's reseller and user);
- it cannot be archived while something that is not archived is assigned to it (its users, the
  accounts, providers, card groups and DIDs on a tariff, the DIDs an account holds): those move or
  are archived first, so the first rule never has to break a running setup;
- a tariff, provider, card group or alert may not get an archived owner (a new one under an
  archived reseller, or one moved to him);
- the admin is never archived.
An archived account is also blocked (pipeline/balances/blocking.py, reason "archived") and cannot
sign in or use its tokens (pipeline/api/visibility.caller_of).

`archive_rule(graph, record)` runs once the record is in the graph (pipeline/reference/ownership.py),
after the other consistency rules.
"""
from __future__ import annotations

from pipeline.reference.graph import RefGraph
from pipeline.schemas.reference import ADMIN_ID, AccountIn, DidIn, ProviderIn, TariffIn

# reverse links whose members are assigned to the key: (link, what the member is, its kind)
_ASSIGNED_TO_ACCOUNT = (("children", "account"), ("account_dids", "did"))
_ASSIGNED_TO_TARIFF = (("tariff_accounts", "account"), ("tariff_providers", "provider"),
                       ("tariff_card_groups", "card_group"), ("tariff_dids", "did"))


def is_archived(record) -> bool:
    return bool(getattr(record, "archived", False))


def archive_rule(graph: RefGraph, record) -> str | None:
    """The archive rule `record` (already in `graph`) breaks, or None."""
    if isinstance(record, AccountIn) and record.type == "admin" and record.archived:
        return f'"{ADMIN_ID}" is the built-in admin and cannot be archived'
    if is_archived(record):
        return _still_in_use(graph, record)
    return _assigned_to_archived(graph, record) or _owned_by_archived(graph, record)


def _assigned_to_archived(graph: RefGraph, record) -> str | None:
    if isinstance(record, AccountIn):
        targets = (("account", record.parent, "under"), ("tariff", record.tariff, "on"))
    elif isinstance(record, ProviderIn):
        targets = (("tariff", record.tariff, "on"),)
    elif isinstance(record, DidIn):
        targets = (("account", record.reseller, "given to"), ("account", record.user, "given to"),
                   ("tariff", record.tariff, "on"))
    elif record.kind == "card_group":
        targets = (("tariff", record.tariff, "on"),)
    else:
        return None
    for kind, target_id, relation in targets:
        target = graph.record(kind, target_id)
        if is_archived(target):
            return (f'{_name(target)} is archived: {_name(record)} cannot be {relation} it '
                    f'(unarchive it first, or choose another)')
    return None


def _owned_by_archived(graph: RefGraph, record) -> str | None:
    owner_id = getattr(record, "owner", None) if not isinstance(record, (AccountIn, DidIn)) else None
    owner = graph.account(owner_id)
    if is_archived(owner):
        return f'{_name(owner)} is archived: {_name(record)} cannot belong to it (unarchive it first)'
    return None


def _still_in_use(graph: RefGraph, record) -> str | None:
    if isinstance(record, AccountIn):
        links = _ASSIGNED_TO_ACCOUNT
    elif isinstance(record, TariffIn):
        links = _ASSIGNED_TO_TARIFF
    else:
        return None
    for link, kind in links:
        for member_id in graph.linked(link, record.id):
            member = graph.record(kind, member_id)
            if member is not None and not is_archived(member):
                undo = "take it back first" if kind == "did" else "move or archive it first"
                return f'{_name(record)} cannot be archived while {_name(member)} is {_relation(link)} it: {undo}'
    return None


def _relation(link: str) -> str:
    return {"children": "under", "account_dids": "given to"}.get(link, "on")


def _name(record) -> str:
    if record.kind == "account":
        kind = record.type
    else:
        kind = "DID" if record.kind == "did" else record.kind.replace("_", " ")
    return f'{kind} "{record.id}"'
