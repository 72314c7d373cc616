"""Who sees what (docs/domain.md "What each party may see"), as pure functions of the reference book.

Everything outside a caller's view is answered as if it did not exist (404), so these functions
say "visible or not" and never why. The admin sees everything; a reseller himself, his users, his
tariffs, providers and DIDs; a user his own account only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipeline.reference.book import ReferenceBook
from pipeline.schemas.reference import ADMIN_ID, AccountIn, DidIn, ProviderIn, TariffIn

Role = Literal["admin", "reseller", "user"]


@dataclass(frozen=True)
class Caller:
    account: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def caller_of(book: ReferenceBook, account_id: str) -> Caller | None:
    """The caller an authenticated account id acts as; None when the account no longer exists or is
    archived (its sessions and tokens stop working at once, on every instance)."""
    if account_id == ADMIN_ID:
        return Caller(ADMIN_ID, "admin")
    account = book.account(account_id)
    if account is None or account.archived:
        return None
    return Caller(account.id, account.type)


def sees_account(caller: Caller, account: AccountIn | None) -> bool:
    if account is None:
        return False
    if caller.role == "admin":
        return True
    if caller.role == "reseller":
        return account.id == caller.account or (account.type == "user" and account.parent == caller.account)
    return account.id == caller.account


def sees_tariff(caller: Caller, book: ReferenceBook, tariff: TariffIn | None) -> bool:
    """A reseller sees the tariffs he owns and the one the admin sells to him (his cost, which he
    pays anyway); a user sees none (his price is on his calls)."""
    if tariff is None:
        return False
    if caller.role == "admin":
        return True
    if caller.role == "reseller":
        own = book.account(caller.account)
        return tariff.owner == caller.account or (own is not None and own.tariff == tariff.id)
    return False


def sees_provider(caller: Caller, provider: ProviderIn | None) -> bool:
    return provider is not None and (caller.role == "admin" or provider.owner == caller.account and caller.role == "reseller")


def sees_did(caller: Caller, did: DidIn | None) -> bool:
    if did is None:
        return False
    return caller.role == "admin" or caller.role == "reseller" and did.reseller == caller.account


def sees_card_group(caller: Caller, group) -> bool:
    """Card groups (and their cards) are their owner's: the admin's or a reseller's own; a user
    sees none (a card holder signs in with his card's number and PIN instead)."""
    return group is not None and (caller.role == "admin" or caller.role == "reseller" and group.owner == caller.account)


def sees_card(caller: Caller, book: ReferenceBook, card) -> bool:
    return card is not None and sees_card_group(caller, book.card_group(card.group))


def sees_device(caller: Caller, book: ReferenceBook, device) -> bool:
    """A device is seen by whoever manages the account it calls as: the admin, and the reseller of
    that user (or the reseller himself); a user sees none (what his switch knows of him is his
    reseller's to set)."""
    if device is None or caller.role == "user":
        return False
    return caller.role == "admin" or sees_account(caller, book.account(device.account))


def visible_accounts(caller: Caller, book: ReferenceBook) -> list[AccountIn]:
    return sorted((a for a in book.accounts() if sees_account(caller, a)), key=lambda a: (a.type != "reseller", a.id))


def users_of(caller: Caller, book: ReferenceBook) -> list[AccountIn]:
    """The accounts a caller manages: the admin's resellers and direct users, a reseller's users."""
    if caller.role == "user":
        return []
    return sorted((a for a in book.accounts() if a.parent == caller.account), key=lambda a: a.id)


@dataclass(frozen=True)
class Scope:
    """The tenant filter a ClickHouse query carries, as bound parameters (queries.py).

    admin: no filter (optionally one reseller's tree); reseller: rows whose reseller or caller is
    him; user: rows where he is the caller. `account` narrows further to one visible account."""
    role: Role
    tenant: str  # the caller's own id
    account: str | None = None
    reseller: str | None = None  # admin only: one reseller's tree

    @classmethod
    def of(cls, caller: Caller, account: str | None = None, reseller: str | None = None) -> Scope:
        return cls(caller.role, caller.account, account, reseller if caller.is_admin else None)
