"""An account's billing chain resolved once: the tariffs of every level that prices its calls.

The chain is the list of ancestors (user -> reseller -> admin), walked generically so a deeper
tree still rates: the caller's own tariff prices the user leg, the nearest reseller ancestor's
tariff the reseller leg. The book caches one plan per account and drops them all on any change to
accounts or tariffs, which keeps the per-call work down to dictionary hits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.rating.rated_call import NotRated
from pipeline.rating.reference import ADMIN_ID, AccountIn, ProviderIn
from pipeline.rating.tariff_index import TariffIndex

if TYPE_CHECKING:
    from pipeline.rating.book import ReferenceBook


@dataclass(frozen=True, slots=True)
class ChainPlan:
    account: AccountIn
    user_index: TariffIndex
    reseller: AccountIn | None  # the nearest reseller ancestor
    reseller_index: TariffIndex | None
    admin_allows_loss: bool  # the root admin's allow_loss_calls (False if the book has no admin)


@dataclass(frozen=True, slots=True)
class ProviderPlan:
    provider: ProviderIn
    index: TariffIndex


def resolve_chain(book: ReferenceBook, account_id: str) -> ChainPlan | NotRated:
    account = book.account(account_id)
    if account is None:
        return NotRated("unknown_account", f'account "{account_id}" is not in the reference data')
    ancestors = book.ancestors(account_id)
    root = ancestors[-1] if ancestors else account
    if root.type != "admin" and root.parent != ADMIN_ID:
        # Parents run out before the admin: either a parent is missing or they loop.
        return NotRated("broken_chain", f'account "{account_id}": ancestor "{root.parent}" of "{root.id}" '
                        "is missing or the parents form a loop")
    user_index = _index_of(book, account, "user")
    if isinstance(user_index, NotRated):
        return user_index
    reseller = next((ancestor for ancestor in ancestors if ancestor.type == "reseller"), None)
    reseller_index = None
    if reseller is not None:
        reseller_index = _index_of(book, reseller, "reseller")
        if isinstance(reseller_index, NotRated):
            return reseller_index
        if reseller_index.currency != user_index.currency:
            return NotRated("currency_mismatch", f'tariff "{user_index.tariff_id}" is in {user_index.currency}, '
                            f'reseller tariff "{reseller_index.tariff_id}" in {reseller_index.currency}',
                            "reseller", reseller_index.tariff_id)
    admin = root if root.type == "admin" else book.account(ADMIN_ID)
    return ChainPlan(account, user_index, reseller, reseller_index,
                     admin is not None and admin.allow_loss_calls)


def resolve_provider(book: ReferenceBook, provider_id: str) -> ProviderPlan | NotRated:
    provider = book.provider(provider_id)
    if provider is None:
        return NotRated("unknown_provider", f'provider "{provider_id}" is not in the reference data', "provider")
    index = book.tariff_index(provider.tariff)
    if index is None:
        return NotRated("unknown_tariff", f'tariff "{provider.tariff}" of provider "{provider_id}" is not in '
                        "the reference data", "provider", provider.tariff)
    return ProviderPlan(provider, index)


def _index_of(book: ReferenceBook, account: AccountIn, level: str) -> TariffIndex | NotRated:
    if account.tariff is None:
        return NotRated("no_tariff", f'{account.type} "{account.id}" has no tariff', level)
    index = book.tariff_index(account.tariff)
    if index is None:
        return NotRated("unknown_tariff", f'tariff "{account.tariff}" of {account.type} "{account.id}" is not '
                        "in the reference data", level, account.tariff)
    return index
