"""Write-side ownership rules (CONTRACT.md, issue 3): checked where reference data is written.

Each check returns the broken rule as a sentence naming the records involved, or None. The book
holds the records written before this one, so a batch may refer to its own earlier records.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.rating.reference import ADMIN_ID, AccountIn, DidIn, HolidaysIn, ProviderIn, TariffIn

if TYPE_CHECKING:
    from pipeline.rating.book import Record, ReferenceBook


def check_ownership(book: ReferenceBook, record: Record, actor: str | None = None) -> str | None:
    acting_reseller = None if actor in (None, ADMIN_ID) else book.account(actor)
    if actor not in (None, ADMIN_ID) and (acting_reseller is None or acting_reseller.type != "reseller"):
        return f'"{actor}" may not write reference data: only the admin and resellers do'
    if isinstance(record, AccountIn):
        return _check_account(book, record, acting_reseller)
    if isinstance(record, TariffIn):
        return _check_tariff(book, record, acting_reseller)
    if isinstance(record, ProviderIn):
        return _check_provider(book, record, acting_reseller)
    if isinstance(record, DidIn):
        return _check_did(book, record, acting_reseller)
    if isinstance(record, HolidaysIn) and acting_reseller is not None:
        return "only the admin sets the installation's holidays"
    return None


def _check_account(book: ReferenceBook, account: AccountIn, acting: AccountIn | None) -> str | None:
    if acting is not None and not (account.type == "user" and account.parent == acting.id):
        return f'reseller "{acting.id}" may only write users of his own (account "{account.id}")'
    if account.type == "admin":
        other = next((a for a in book.accounts() if a.type == "admin" and a.id != account.id), None)
        return None if other is None else f'there is one admin per installation and "{other.id}" is it'
    parent = book.account(account.parent)
    if parent is None:
        return f'parent "{account.parent}" of {account.type} "{account.id}" does not exist'
    allowed_parents = ("admin",) if account.type == "reseller" else ("reseller", "admin")
    if parent.type not in allowed_parents:
        return (f'the parent of {account.type} "{account.id}" must be {" or ".join(allowed_parents)}; '
                f'"{parent.id}" is a {parent.type}')
    existing = book.account(account.id)
    if existing is not None and existing.type != account.type:
        child = next((a for a in book.accounts() if a.parent == account.id), None)
        if child is not None:
            return f'account "{account.id}" has {child.type} "{child.id}" under it and cannot become a {account.type}'
    if account.tariff is not None:
        tariff = book.tariff(account.tariff)
        if tariff is None:
            return f'tariff "{account.tariff}" of {account.type} "{account.id}" does not exist'
        if tariff.owner != parent.id:
            return (f'{account.type} "{account.id}" may only get a tariff of its parent "{parent.id}"; '
                    f'tariff "{tariff.id}" belongs to "{tariff.owner}"')
    return None


def _check_tariff(book: ReferenceBook, tariff: TariffIn, acting: AccountIn | None) -> str | None:
    if acting is not None and tariff.owner != acting.id:
        return f'reseller "{acting.id}" may only write tariffs of his own (tariff "{tariff.id}")'
    owner = book.account(tariff.owner)
    if owner is None or owner.type not in ("admin", "reseller"):
        return f'owner "{tariff.owner}" of tariff "{tariff.id}" must be an existing admin or reseller'
    # A new owner must not strand the accounts already on this tariff.
    for account in book.accounts():
        if account.tariff == tariff.id and account.parent != tariff.owner and account.type != "admin":
            return (f'tariff "{tariff.id}" is assigned to {account.type} "{account.id}" of "{account.parent}", '
                    f'so it cannot belong to "{tariff.owner}"')
    return None


def _check_provider(book: ReferenceBook, provider: ProviderIn, acting: AccountIn | None) -> str | None:
    if acting is not None and provider.owner != acting.id:
        return f'reseller "{acting.id}" may only write providers of his own (provider "{provider.id}")'
    owner = book.account(provider.owner)
    if owner is None or not (owner.type == "admin" or owner.type == "reseller" and owner.pro):
        return (f'provider "{provider.id}" must be owned by the admin or a reseller PRO; '
                f'"{provider.owner}" is {"missing" if owner is None else "a " + owner.type + " without PRO"}')
    tariff = book.tariff(provider.tariff)
    if tariff is None:
        return f'tariff "{provider.tariff}" of provider "{provider.id}" does not exist'
    if tariff.owner != provider.owner:
        return (f'provider "{provider.id}" of "{provider.owner}" needs a tariff of that owner; '
                f'tariff "{tariff.id}" belongs to "{tariff.owner}"')
    return None


def _check_did(book: ReferenceBook, did: DidIn, acting: AccountIn | None) -> str | None:
    existing = book.did(did.number)
    if acting is not None:
        if existing is None:
            return f'only the admin creates DIDs (DID "{did.number}")'
        if existing.reseller != acting.id or did.reseller != acting.id:
            return f'reseller "{acting.id}" can only assign DIDs that are his (DID "{did.number}")'
    if did.reseller is not None:
        reseller = book.account(did.reseller)
        if reseller is None or reseller.type != "reseller":
            return f'DID "{did.number}": "{did.reseller}" is not an existing reseller'
    if did.user is not None:
        user = book.account(did.user)
        if user is None or user.type != "user":
            return f'DID "{did.number}": "{did.user}" is not an existing user'
        if did.reseller is not None and user.parent != did.reseller:
            return f'DID "{did.number}": user "{did.user}" does not belong to reseller "{did.reseller}"'
    if did.tariff is not None and book.tariff(did.tariff) is None:
        return f'DID "{did.number}": tariff "{did.tariff}" does not exist'
    return None
