"""ReferenceBook: the reference data the rater reads, filled record by record from the ref topics.

Mutable on purpose (the streaming side applies each Kafka record as it arrives), but everything
handed out is frozen: accounts and headers are pydantic models, tariff indexes are copy-on-write.
Resolved chains are cached per account and dropped whenever accounts or tariffs change.
The admin is built in (docs/domain.md "Who is in a call"): the book holds it from the start, a record may replace
it (a name, allow_loss_calls) and deleting it brings the built-in one back.
"""
from __future__ import annotations

from datetime import date

from pipeline.rating.chain_plan import (
    CallPlan,
    ChainPlan,
    ProviderPlan,
    resolve_call_plan,
    resolve_chain,
    resolve_provider,
)
from pipeline.rating.rated_call import NotRated
from pipeline.rating.tariff_index import TariffIndex
from pipeline.reference.devices import DeviceIndex
from pipeline.reference.graph import RefGraph
from pipeline.reference.ownership import check_ownership
from pipeline.schemas import field_rules
from pipeline.schemas.alerts import AlertIn
from pipeline.schemas.cards import CardGroupIn, CardIn
from pipeline.schemas.devices import DeviceIn
from pipeline.schemas.reference import (
    ADMIN_ID,
    BUILT_IN_ADMIN,
    AccountIn,
    DidIn,
    HolidaysIn,
    ProviderIn,
    RateIn,
    TariffIn,
)

Record = AccountIn | TariffIn | ProviderIn | DidIn | HolidaysIn | AlertIn | CardGroupIn | CardIn | DeviceIn
KINDS = ("account", "tariff", "provider", "did", "holidays", "alert", "card_group", "card", "device")


class ReferenceBook:
    def __init__(self) -> None:
        self._accounts: dict[str, AccountIn] = {}
        self._tariffs: dict[str, TariffIn] = {}  # headers only; the rates live in the index
        self._indexes: dict[str, TariffIndex] = {}
        self._providers: dict[str, ProviderIn] = {}
        self._dids: dict[str, DidIn] = {}
        self._alerts: dict[str, AlertIn] = {}  # read by the alert agents and the API, never by rating
        # calling cards (pipeline/cards): a card pays through its own account record, so rating
        # never reads these; the authorizer, the API and the cards CLI do
        self._card_groups: dict[str, CardGroupIn] = {}
        self._cards: dict[str, CardIn] = {}
        self._group_cards: dict[str, set[str]] = {}  # group id -> card numbers
        self._card_caller_ids: dict[str, str] = {}  # caller id -> card number (PIN-less cards)
        # devices (pipeline/schemas/devices.py): who a CDR or a request without an account is, indexed by
        # each key they claim (pipeline/reference/devices.py); no plan depends on them
        self.devices = DeviceIndex()
        self.holidays: frozenset[date] = frozenset()
        self.holiday_days: frozenset[int] = frozenset()  # the same days, as the index compares them
        self._chain_plans: dict[str, ChainPlan | NotRated] = {}
        self._provider_plans: dict[str, ProviderPlan | NotRated] = {}
        # account -> provider -> plan: rate_call reads this dict directly, two gets per call.
        self._call_plans: dict[str, dict[str | None, CallPlan | NotRated]] = {}
        self._graph: RefGraph | None = None  # built when the write rules first ask (see `graph`)
        self.apply(BUILT_IN_ADMIN)

    def apply(self, record: Record) -> None:
        """Insert or replace one record. A tariff must carry its rates (resolve rates_csv first);
        replacing a tariff recompiles that tariff only."""
        if isinstance(record, AlertIn):  # no chain or tariff plan depends on an alert
            self._alerts[record.id] = record
            if self._graph is not None:
                self._graph.put(record)
            return
        if isinstance(record, (CardGroupIn, CardIn)):  # nor on a card: its account record is what pays
            self._apply_card(record)
            if self._graph is not None:
                self._graph.put(record)
            return
        if isinstance(record, DeviceIn):  # nor on a device: the account it names is what pays
            self.devices.put(record)
            if self._graph is not None:
                self._graph.put(record)
            return
        if isinstance(record, AccountIn):
            self._accounts[record.id] = record
        elif isinstance(record, TariffIn):
            if record.rates_csv is not None:
                raise ValueError(f'tariff "{record.id}": read rates_csv before applying (csv_rates.resolve_rates_csv)')
            self._indexes[record.id] = TariffIndex.build(record)
            self._tariffs[record.id] = record.header()
        elif isinstance(record, ProviderIn):
            self._providers[record.id] = record
        elif isinstance(record, DidIn):
            self._dids[record.number] = record
        elif isinstance(record, HolidaysIn):
            self.holidays = frozenset(record.dates)
            self.holiday_days = frozenset(map(field_rules.day_number, record.dates))
        else:
            raise TypeError(f"not a reference record: {type(record).__name__}")
        if self._graph is not None:
            self._graph.put(record)
        self._forget_plans()

    def update_rates(self, tariff_id: str, rates: list[RateIn] | tuple[RateIn, ...]) -> None:
        """Add or replace some rates of a loaded tariff without recompiling the rest of it."""
        self._indexes[tariff_id] = self._indexes[tariff_id].with_rates(rates)
        self._forget_plans()

    def delete(self, kind: str, record_id: str) -> None:
        """Remove a record (an empty Kafka value); unknown ids are ignored, as a replay may repeat them."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
        if kind != "holidays" and self._graph is not None:
            self._graph.remove(kind, record_id)
        if kind == "account" and record_id == ADMIN_ID:
            self.apply(BUILT_IN_ADMIN)  # the admin always exists
            return
        if kind == "account":
            self._accounts.pop(record_id, None)
        elif kind == "tariff":
            self._tariffs.pop(record_id, None)
            self._indexes.pop(record_id, None)
        elif kind == "provider":
            self._providers.pop(record_id, None)
        elif kind == "did":
            self._dids.pop(record_id, None)
        elif kind == "alert":
            self._alerts.pop(record_id, None)
        elif kind == "card_group":
            self._card_groups.pop(record_id, None)
        elif kind == "card":
            self._forget_card(record_id)
        elif kind == "device":
            self.devices.remove(record_id)
        else:
            self.holidays, self.holiday_days = frozenset(), frozenset()
        self._forget_plans()

    def copy(self) -> ReferenceBook:
        """A scratch book for validating a batch: records apply to it without touching this one."""
        other = ReferenceBook()
        for name in ("_accounts", "_tariffs", "_indexes", "_providers", "_dids", "_alerts", "_card_groups", "_cards",
                     "_card_caller_ids"):
            setattr(other, name, dict(getattr(self, name)))
        other._group_cards = {group: set(numbers) for group, numbers in self._group_cards.items()}
        other.devices = self.devices.copy()
        other.holidays, other.holiday_days = self.holidays, self.holiday_days
        other._graph = None if self._graph is None else self._graph.copy()
        return other

    @property
    def graph(self) -> RefGraph:
        """The records with their reverse links, for the write rules (ownership.check_records).
        Built on first use and kept up to date from then on: a worker that only rates never pays
        for it (two set entries per account)."""
        if self._graph is None:
            graph = RefGraph()
            for records in (self._accounts.values(), self._tariffs.values(), self._providers.values(),
                            self._dids.values(), self._alerts.values(), self._card_groups.values(),
                            self._cards.values(), self.devices.all()):
                for record in records:
                    graph.put(record)
            self._graph = graph
        return self._graph

    def account(self, account_id: str) -> AccountIn | None:
        return self._accounts.get(account_id)

    def accounts(self) -> list[AccountIn]:
        return list(self._accounts.values())

    def ancestors(self, account_id: str) -> list[AccountIn]:
        """Parent, grandparent, ... nearest first. Stops at a missing parent or a loop."""
        found: list[AccountIn] = []
        seen = {account_id}
        account = self._accounts.get(account_id)
        while account is not None and account.parent is not None and account.parent not in seen:
            seen.add(account.parent)
            account = self._accounts.get(account.parent)
            if account is not None:
                found.append(account)
        return found

    def tariffs(self) -> list[TariffIn]:
        """Every tariff's header (no rates)."""
        return list(self._tariffs.values())

    def providers(self) -> list[ProviderIn]:
        return list(self._providers.values())

    def alerts(self) -> list[AlertIn]:
        return list(self._alerts.values())

    def alert(self, alert_id: str) -> AlertIn | None:
        return self._alerts.get(alert_id)

    def device(self, device_id: str) -> DeviceIn | None:
        return self.devices.get(device_id)

    def card_group(self, group_id: str) -> CardGroupIn | None:
        return self._card_groups.get(group_id)

    def card_groups(self) -> list[CardGroupIn]:
        return list(self._card_groups.values())

    def card(self, number: str) -> CardIn | None:
        return self._cards.get(number)

    def cards_of_group(self, group_id: str) -> list[CardIn]:
        """The group's cards, by number."""
        return [self._cards[number] for number in sorted(self._group_cards.get(group_id, ()))]

    def card_count(self, group_id: str) -> int:
        return len(self._group_cards.get(group_id, ()))

    def card_by_caller_id(self, caller_id: str) -> CardIn | None:
        """The card a caller id is bound to (PIN-less cards), or None."""
        number = self._card_caller_ids.get(caller_id)
        return None if number is None else self._cards.get(number)

    def _apply_card(self, record: CardGroupIn | CardIn) -> None:
        if isinstance(record, CardGroupIn):
            self._card_groups[record.id] = record
            return
        self._forget_card(record.number)
        self._cards[record.number] = record
        self._group_cards.setdefault(record.group, set()).add(record.number)
        for caller_id in record.caller_ids:
            self._card_caller_ids[caller_id] = record.number

    def _forget_card(self, number: str) -> None:
        old = self._cards.pop(number, None)
        if old is None:
            return
        numbers = self._group_cards.get(old.group)
        if numbers is not None:
            numbers.discard(number)
            if not numbers:
                del self._group_cards[old.group]
        for caller_id in old.caller_ids:
            if self._card_caller_ids.get(caller_id) == number:
                del self._card_caller_ids[caller_id]

    def dids(self) -> list[DidIn]:
        return list(self._dids.values())

    def tariff(self, tariff_id: str) -> TariffIn | None:
        """The tariff's header (no rates)."""
        return self._tariffs.get(tariff_id)

    def tariff_index(self, tariff_id: str) -> TariffIndex | None:
        return self._indexes.get(tariff_id)

    def provider(self, provider_id: str) -> ProviderIn | None:
        return self._providers.get(provider_id)

    def did(self, number: str) -> DidIn | None:
        return self._dids.get(number)

    def check_ownership(self, record: Record, actor: str | None = None) -> str | None:
        """The write-side rule this record breaks against the book, or None. `actor` is who writes
        it: None (or the admin's id) for the admin, a reseller's id for a reseller."""
        return check_ownership(self, record, actor)

    def chain_plan(self, account_id: str) -> ChainPlan | NotRated:
        plan = self._chain_plans.get(account_id)
        if plan is None:
            plan = self._chain_plans[account_id] = resolve_chain(self, account_id)
        return plan

    def provider_plan(self, provider_id: str) -> ProviderPlan | NotRated:
        plan = self._provider_plans.get(provider_id)
        if plan is None:
            plan = self._provider_plans[provider_id] = resolve_provider(self, provider_id)
        return plan

    def call_plan(self, account_id: str, provider_id: str | None) -> CallPlan | NotRated:
        """What rate_call needs for this caller and provider, resolved once (chain_plan, then
        provider_plan, then the provider tariff's currency)."""
        plans = self._call_plans.get(account_id)
        if plans is None:
            plans = self._call_plans[account_id] = {}
        plan = plans.get(provider_id)
        if plan is None:
            plan = plans[provider_id] = resolve_call_plan(self, account_id, provider_id)
        return plan

    def _forget_plans(self) -> None:
        self._chain_plans.clear()
        self._provider_plans.clear()
        self._call_plans.clear()
