"""What must hold in the reference data once a record is written, whoever writes it.

Each check looks at the record and at what depends on it, following the graph's reverse links:
a tariff's accounts, providers and DIDs; an account's children, DIDs, providers and tariffs. So
re-owning a tariff that others use, moving a user who holds a DID, or taking PRO from a reseller
who owns a provider is refused at the record that would break them, naming them.
"""
from __future__ import annotations

from pipeline.reference import alert_rules, card_rules, device_rules
from pipeline.reference.graph import Record, RefGraph
from pipeline.schemas.alerts import AlertIn
from pipeline.schemas.cards import CardGroupIn, CardIn
from pipeline.schemas.devices import DeviceIn
from pipeline.schemas.reference import ADMIN_ID, AccountIn, DidIn, ProviderIn, TariffIn


def consistent(graph: RefGraph, record: Record) -> str | None:
    """The rule broken once `record` is in `graph` (already put there), or None."""
    if isinstance(record, AccountIn):
        return _account_rules(graph, record) or _account_dependents(graph, record)
    if isinstance(record, TariffIn):
        return _tariff_rules(graph, record) or _tariff_dependents(graph, record)
    if isinstance(record, ProviderIn):
        return _provider_rules(graph, record)
    if isinstance(record, DidIn):
        return _did_rules(graph, record)
    if isinstance(record, AlertIn):
        return alert_rules.consistency_rule(graph, record)
    if isinstance(record, (CardGroupIn, CardIn)):
        return card_rules.consistency_rule(graph, record)
    if isinstance(record, DeviceIn):
        return device_rules.consistency_rule(graph, record)
    return None


def _account_rules(graph: RefGraph, account: AccountIn) -> str | None:
    if account.id == ADMIN_ID and account.type != "admin":
        return f'"{ADMIN_ID}" is the built-in admin and cannot be a {account.type}'
    if account.type == "admin":
        if account.id != ADMIN_ID:
            return f'there is one admin per installation and "{ADMIN_ID}" is it'
        if account.blocked:
            return ("the admin cannot be blocked: it has no balance, and blocking it would stop every "
                    "account of the installation (block a reseller or a user instead)")
        return None
    parent = graph.account(account.parent)
    if parent is None:
        return f'parent "{account.parent}" of {account.type} "{account.id}" does not exist'
    rule = _parent_type_rule(account, parent)
    if rule is not None:
        return rule
    if account.tariff is not None:
        holder = f'{account.type} "{account.id}"'
        rule = _tariff_of(graph, account.tariff, holder, parent.id,
                          f'{holder} may only get a tariff of its parent "{parent.id}"')
        if rule is not None:
            return rule
    return _currency_rule(graph, account) or card_rules.account_rule(graph, account)


def _tariff_of(graph: RefGraph, tariff_id: str, holder: str, owner: str, rule: str) -> str | None:
    """The tariff a record names exists and belongs to `owner` (the account's parent, the
    provider's owner)."""
    tariff = graph.tariff(tariff_id)
    if tariff is None:
        return f'tariff "{tariff_id}" of {holder} does not exist'
    if tariff.owner != owner:
        return f'{rule}; tariff "{tariff.id}" belongs to "{tariff.owner}"'
    return None


def _parent_type_rule(account: AccountIn, parent: AccountIn) -> str | None:
    allowed_parents = ("admin",) if account.type == "reseller" else ("reseller", "admin")
    if parent.type not in allowed_parents:
        return (f'the parent of {account.type} "{account.id}" must be {" or ".join(allowed_parents)}; '
                f'"{parent.id}" is a {parent.type}')
    return None


def _currency_rule(graph: RefGraph, account: AccountIn) -> str | None:
    """The user's tariff and his reseller's are in one currency: rating would refuse every call of
    his with currency_mismatch otherwise, so it is refused when written."""
    tariff = graph.tariff(account.tariff)
    reseller = graph.nearest_reseller(account)
    reseller_tariff = None if reseller is None else graph.tariff(reseller.tariff)
    if tariff is None or reseller_tariff is None or tariff.currency == reseller_tariff.currency:
        return None
    return (f'currency chain: tariff "{tariff.id}" of {account.type} "{account.id}" is in {tariff.currency}, '
            f'tariff "{reseller_tariff.id}" of his reseller "{reseller.id}" in {reseller_tariff.currency}')


def _account_dependents(graph: RefGraph, account: AccountIn) -> str | None:
    """What hangs under the account still holds: its children, DIDs, providers and tariffs."""
    for child_id in graph.linked("children", account.id):
        child = graph.account(child_id)
        if _parent_type_rule(child, account) is not None:
            return f'account "{account.id}" has {child.type} "{child.id}" under it and cannot become a {account.type}'
        rule = _currency_rule(graph, child)
        if rule is not None:
            return rule
    for number in graph.linked("account_dids", account.id):
        rule = _did_rules(graph, graph.record("did", number))
        if rule is not None:
            return f'{account.type} "{account.id}" holds DID "{number}", so this change is refused: {rule}'
    for provider_id in graph.linked("owner_providers", account.id):
        rule = _provider_rules(graph, graph.record("provider", provider_id))
        if rule is not None:
            return f'{account.type} "{account.id}" owns provider "{provider_id}", so this change is refused: {rule}'
    for tariff_id in graph.linked("owner_tariffs", account.id):
        rule = _tariff_rules(graph, graph.tariff(tariff_id))
        if rule is not None:
            return f'{account.type} "{account.id}" owns tariff "{tariff_id}", so this change is refused: {rule}'
    for group_id in graph.linked("owner_card_groups", account.id):
        rule = card_rules.group_rule(graph, graph.record("card_group", group_id))
        if rule is not None:
            return f'{account.type} "{account.id}" owns card group "{group_id}", so this change is refused: {rule}'
    for device_id in graph.linked("account_devices", account.id):
        rule = device_rules.consistency_rule(graph, graph.record("device", device_id))
        if rule is not None:
            return f'{account.type} "{account.id}" calls through device "{device_id}", so this change is refused: {rule}'
    return None


def _tariff_rules(graph: RefGraph, tariff: TariffIn) -> str | None:
    owner = graph.account(tariff.owner)
    if owner is None or owner.type not in ("admin", "reseller"):
        return f'owner "{tariff.owner}" of tariff "{tariff.id}" must be an existing admin or reseller'
    return None


def _tariff_dependents(graph: RefGraph, tariff: TariffIn) -> str | None:
    """Whoever is on the tariff may still be: its owner is their parent (or the provider's owner,
    or the DID's reseller or the admin), and its currency fits their chain."""
    for account_id in graph.linked("tariff_accounts", tariff.id):
        account = graph.account(account_id)
        if account.type != "admin" and account.parent != tariff.owner:
            return (f'tariff "{tariff.id}" is assigned to {account.type} "{account.id}" of "{account.parent}", '
                    f'so it cannot belong to "{tariff.owner}"')
        # its currency against the reseller above, and (a reseller's tariff) against his users'
        for member in (account, *map(graph.account, graph.linked("children", account.id))):
            rule = _currency_rule(graph, member)
            if rule is not None:
                return rule
    for provider_id in graph.linked("tariff_providers", tariff.id):
        provider = graph.record("provider", provider_id)
        if provider.owner != tariff.owner:
            return (f'tariff "{tariff.id}" is the tariff of provider "{provider.id}" of "{provider.owner}", '
                    f'so it cannot belong to "{tariff.owner}"')
    for group_id in graph.linked("tariff_card_groups", tariff.id):
        rule = card_rules.group_rule(graph, graph.record("card_group", group_id))
        if rule is not None:
            return f'tariff "{tariff.id}" is the tariff of card group "{group_id}", so this change is refused: {rule}'
    for number in graph.linked("tariff_dids", tariff.id):
        rule = _did_rules(graph, graph.record("did", number))
        if rule is not None:
            return f'tariff "{tariff.id}" is the tariff of DID "{number}", so this change is refused: {rule}'
    return None


def _provider_rules(graph: RefGraph, provider: ProviderIn) -> str | None:
    owner = graph.account(provider.owner)
    if owner is None or not (owner.type == "admin" or owner.type == "reseller" and owner.pro):
        return (f'provider "{provider.id}" must be owned by the admin or a reseller PRO; '
                f'"{provider.owner}" is {"missing" if owner is None else "a " + owner.type + " without PRO"}')
    return _tariff_of(graph, provider.tariff, f'provider "{provider.id}"', provider.owner,
                      f'provider "{provider.id}" of "{provider.owner}" needs a tariff of that owner')


def _did_rules(graph: RefGraph, did: DidIn) -> str | None:
    if did.reseller is not None:
        reseller = graph.account(did.reseller)
        if reseller is None or reseller.type != "reseller":
            return f'DID "{did.number}": "{did.reseller}" is not an existing reseller'
    if did.user is not None:
        user = graph.account(did.user)
        if user is None or user.type != "user":
            return f'DID "{did.number}": "{did.user}" is not an existing user'
        if did.reseller is not None and user.parent != did.reseller:
            return f'DID "{did.number}": user "{did.user}" does not belong to reseller "{did.reseller}"'
    if did.owner_rate is not None and (did.reseller is None or did.user is None):
        return (f'DID "{did.number}": owner_rate is what a reseller\'s user pays him for the DID, so it needs '
                "both a reseller and a user (the admin's rates.owner prices everyone else)")
    if did.tariff is not None:
        tariff = graph.tariff(did.tariff)
        if tariff is None:
            return f'DID "{did.number}": tariff "{did.tariff}" does not exist'
        if tariff.owner not in (ADMIN_ID, did.reseller):
            return (f'DID "{did.number}" may only have a tariff of the admin or of its reseller; '
                    f'tariff "{tariff.id}" belongs to "{tariff.owner}"')
    return None
