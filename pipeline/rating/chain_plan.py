"""An account's billing chain resolved once: the tariffs of every level that prices its calls.

The chain is the list of ancestors (user -> reseller -> admin), walked generically so a deeper
tree still rates: the caller's own tariff prices the user leg, the nearest reseller ancestor's
tariff the reseller leg. The book caches one plan per account and drops them all on any change to
accounts or tariffs, which keeps the per-call work down to dictionary hits.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from pipeline.rating.pricing import POWERS_OF_TEN, QUANTUM, ZERO_PRICE
from pipeline.rating.rated_call import NotRated
from pipeline.rating.tariff_index import Entries, Probes, ProbesUpto, TariffIndex
from pipeline.schemas.reference import ADMIN_ID, AccountIn, DidIn, ProviderIn, TariffIn


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


def resolve_chain(book: RatingBook, account_id: str) -> ChainPlan | NotRated:
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
    reseller_index: TariffIndex | None = None
    if reseller is not None:
        found = _index_of(book, reseller, "reseller")
        if isinstance(found, NotRated):
            return found
        reseller_index = found
        if reseller_index.currency != user_index.currency:
            return NotRated("currency_mismatch", f'tariff "{user_index.tariff_id}" is in {user_index.currency}, '
                            f'reseller tariff "{reseller_index.tariff_id}" in {reseller_index.currency}',
                            "reseller", reseller_index.tariff_id)
    admin = root if root.type == "admin" else book.account(ADMIN_ID)
    return ChainPlan(account, user_index, reseller, reseller_index,
                     admin is not None and admin.allow_loss_calls)


def resolve_provider(book: RatingBook, provider_id: str) -> ProviderPlan | NotRated:
    provider = book.provider(provider_id)
    if provider is None:
        return NotRated("unknown_provider", f'provider "{provider_id}" is not in the reference data', "provider")
    index = book.tariff_index(provider.tariff)
    if index is None:
        return NotRated("unknown_tariff", f'tariff "{provider.tariff}" of provider "{provider_id}" is not in '
                        "the reference data", "provider", provider.tariff)
    return ProviderPlan(provider, index)


def _index_of(book: RatingBook, account: AccountIn, level: str) -> TariffIndex | NotRated:
    if account.tariff is None:
        return NotRated("no_tariff", f'{account.type} "{account.id}" has no tariff', level)
    index = book.tariff_index(account.tariff)
    if index is None:
        return NotRated("unknown_tariff", f'tariff "{account.tariff}" of {account.type} "{account.id}" is not '
                        "in the reference data", level, account.tariff)
    return index


# The per-call plan: everything rate_call needs for one (account, provider) pair, resolved once and
# cached by the book next to the plans above (and dropped with them). Plain tuples, unpacked in one
# step on the hot path.
DIRECT, VIA_RESELLER, OWN_PROVIDER = 0, 1, 2


class LevelSpec(NamedTuple):
    level: str
    tariff_id: str
    entries: Entries  # TariffIndex.lookup_tables()
    probes: Probes
    probes_upto: ProbesUpto
    follows_user: bool  # the user tariff covers this one: start the walk at the user's longest prefix
    zone: ZoneInfo | None
    scale: int  # 10 ** decimals
    quantum: Decimal  # 10 ** -decimals
    zero_price: Decimal  # 0 at the tariff's decimals
    rounding_code: int
    payer: str  # the account (or provider) named when no rate is found


class CallPlan(NamedTuple):
    levels: tuple[LevelSpec, ...]  # user, then reseller (VIA_RESELLER only), then provider (if any)
    mode: int  # DIRECT, VIA_RESELLER or OWN_PROVIDER
    reseller_id: str  # "" for a direct user
    reseller_allows_loss: bool
    admin_allows_loss: bool
    currency: str


def resolve_call_plan(book: RatingBook, account_id: str, provider_id: str | None) -> CallPlan | NotRated:
    """The checks rate_call makes before any lookup, in its order: the account's chain, the
    provider, the provider tariff's currency."""
    plan = book.chain_plan(account_id)
    if isinstance(plan, NotRated):
        return plan
    provider_plan: ProviderPlan | None = None
    if provider_id is not None:
        found = book.provider_plan(provider_id)
        if isinstance(found, NotRated):
            return found
        provider_plan = found
        if provider_plan.index.currency != plan.user_index.currency:
            return NotRated("currency_mismatch", f'provider tariff "{provider_plan.index.tariff_id}" is in '
                            f"{provider_plan.index.currency}, the user's in {plan.user_index.currency}",
                            "provider", provider_plan.index.tariff_id)
    reseller = plan.reseller
    own_provider = provider_plan is not None and reseller is not None and provider_plan.provider.owner == reseller.id
    user_index = plan.user_index
    levels = [_level_spec("user", user_index, account_id, False)]
    if reseller is not None and not own_provider:
        reseller_index = plan.reseller_index
        assert reseller_index is not None  # resolve_chain finds it with the reseller
        levels.append(_level_spec("reseller", reseller_index, reseller.id, user_index.covers(reseller_index)))
    if provider_plan is not None:
        levels.append(_level_spec("provider", provider_plan.index, provider_plan.provider.id,
                                  user_index.covers(provider_plan.index)))
    mode = OWN_PROVIDER if own_provider else DIRECT if reseller is None else VIA_RESELLER
    return CallPlan(tuple(levels), mode, "" if reseller is None else reseller.id,
                    reseller is not None and reseller.allow_loss_calls, plan.admin_allows_loss,
                    plan.user_index.currency)


def code_plan(plan: CallPlan, book: RatingBook) -> CallPlan:
    """The plan for a destination that is not a number (pipeline/schemas/dialled.py): the same
    levels, each walking its tariff's code rates only (TariffIndex.code_tables). Codes are rare, so
    it is made per call from the indexes' kept tables, never cached."""
    levels = []
    for spec in plan.levels:
        index = book.tariff_index(spec.tariff_id)
        assert index is not None  # the plan was made from it, and is dropped when the tariffs change
        entries, probes = index.code_tables()
        # not following the user's walk, it never reads probes_upto
        levels.append(spec._replace(entries=entries, probes=probes, probes_upto=(), follows_user=False))
    return plan._replace(levels=tuple(levels))


def _level_spec(level: str, index: TariffIndex, payer: str, follows_user: bool) -> LevelSpec:
    entries, probes, probes_upto = index.lookup_tables()
    return LevelSpec(level, index.tariff_id, entries, probes, probes_upto, follows_user, index.zone, POWERS_OF_TEN[index.decimals],
                     QUANTUM[index.decimals], ZERO_PRICE[index.decimals], index.rounding_code, payer)


class RatingBook(Protocol):
    """What rating reads of the reference data. pipeline.reference.book.ReferenceBook is the one
    implementation; rating names only this, so it imports nothing above it."""

    holiday_days: frozenset[int]  # days since 1970-01-01 (field_rules.day_number)
    # read directly by rate_call, two dict gets per call; call_plan fills it
    _call_plans: dict[str, dict[str | None, CallPlan | NotRated]]

    def account(self, account_id: str) -> AccountIn | None: ...

    def ancestors(self, account_id: str) -> list[AccountIn]: ...

    def tariff(self, tariff_id: str) -> TariffIn | None: ...

    def tariff_index(self, tariff_id: str) -> TariffIndex | None: ...

    def provider(self, provider_id: str) -> ProviderIn | None: ...

    def did(self, number: str) -> DidIn | None: ...

    def chain_plan(self, account_id: str) -> ChainPlan | NotRated: ...

    def provider_plan(self, provider_id: str) -> ProviderPlan | NotRated: ...

    def call_plan(self, account_id: str, provider_id: str | None) -> CallPlan | NotRated: ...
