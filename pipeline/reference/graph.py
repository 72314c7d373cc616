"""Reference records with the links the write rules follow backwards, kept up to date per record.

The ownership rules ask "who uses this tariff?", "who is under this account?", "which DIDs does
this user hold?". Scanning every account for each record made `ref apply` quadratic (20k accounts
and 2k tariffs: seconds to minutes); these reverse links answer in O(1), and each record's put
updates them in O(1).

`overlay()` gives a scratch graph on top of this one: reads fall through, writes stay in the
overlay (a link set is copied the first time the overlay changes it), so validating a batch never
touches the book's own graph and costs what the batch touches, not the size of the book.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, overload

from pipeline.reference.records import Record
from pipeline.schemas.alerts import AlertIn
from pipeline.schemas.cards import CardGroupIn, CardIn
from pipeline.schemas.devices import DeviceIn, key_link, value_link
from pipeline.schemas.reference import AccountIn, DidIn, HolidaysIn, ProviderIn, TariffIn

KIND_MAPS = {"account": "accounts", "tariff": "tariffs", "provider": "providers", "did": "dids", "alert": "alerts",
             "card_group": "card_groups", "card": "cards", "device": "devices"}
# reverse link -> what it leads from and to
LINKS = (
    "children",  # parent id -> ids of accounts under it
    "tariff_accounts",  # tariff id -> ids of accounts on it
    "tariff_providers",  # tariff id -> ids of providers buying on it
    "tariff_dids",  # tariff id -> numbers of DIDs on it
    "owner_tariffs",  # account id -> ids of tariffs it owns
    "owner_providers",  # account id -> ids of providers it owns
    "account_dids",  # account id (reseller or user) -> numbers of DIDs assigned to it
    "owner_card_groups",  # account id -> ids of card groups it owns
    "tariff_card_groups",  # tariff id -> ids of card groups whose cards pay by it
    "group_cards",  # card group id -> numbers of its cards
    "account_devices",  # account id -> ids of the devices that call as it
    "device_keys",  # a key a device claims (schemas.devices.key_link) -> ids of live devices claiming it
    "device_key_values",  # a SIP user or IP on any server (value_link) -> ids of live devices claiming it
)
_MISSING = object()


class RefGraph:
    def __init__(self, base: RefGraph | None = None) -> None:
        self.base = base
        self._maps: dict[str, dict] = {name: {} for name in (*KIND_MAPS.values(), *LINKS)}

    def overlay(self) -> RefGraph:
        return RefGraph(self)

    def copy(self) -> RefGraph:
        """An independent graph with the same content (this graph must have no base)."""
        assert self.base is None, "copy a base graph, not an overlay"
        other = RefGraph()
        for name, entries in self._maps.items():
            other._maps[name] = {key: set(value) for key, value in entries.items()} if name in LINKS else dict(entries)
        return other

    # reads
    def _get(self, name: str, key: str) -> Any:
        found = self._maps[name].get(key, _MISSING)
        if found is _MISSING:
            return None if self.base is None else self.base._get(name, key)
        return found

    @overload
    def record(self, kind: Literal["account"], key: str | None) -> AccountIn | None: ...
    @overload
    def record(self, kind: Literal["tariff"], key: str | None) -> TariffIn | None: ...
    @overload
    def record(self, kind: Literal["provider"], key: str | None) -> ProviderIn | None: ...
    @overload
    def record(self, kind: Literal["did"], key: str | None) -> DidIn | None: ...
    @overload
    def record(self, kind: Literal["holidays"], key: str | None) -> HolidaysIn | None: ...
    @overload
    def record(self, kind: Literal["alert"], key: str | None) -> AlertIn | None: ...
    @overload
    def record(self, kind: Literal["card_group"], key: str | None) -> CardGroupIn | None: ...
    @overload
    def record(self, kind: Literal["card"], key: str | None) -> CardIn | None: ...
    @overload
    def record(self, kind: Literal["device"], key: str | None) -> DeviceIn | None: ...
    @overload
    def record(self, kind: str, key: str | None) -> Record | None: ...

    def record(self, kind: str, key: str | None) -> Record | None:
        return None if key is None else self._get(KIND_MAPS[kind], key)

    def account(self, key: str | None) -> AccountIn | None:
        return self.record("account", key)

    def tariff(self, key: str | None) -> TariffIn | None:
        return self.record("tariff", key)

    def linked(self, link: str, key: str) -> Iterable[str]:
        """The ids at the other end of a reverse link, in a stable order."""
        return sorted(self._get(link, key) or ())

    def nearest_reseller(self, account: AccountIn) -> AccountIn | None:
        """The first reseller among the account's ancestors (parents first), stopping at a loop."""
        seen = {account.id}
        parent = self.account(account.parent)
        while parent is not None and parent.id not in seen:
            if parent.type == "reseller":
                return parent
            seen.add(parent.id)
            parent = self.account(parent.parent)
        return None

    # writes
    def put(self, record: Record) -> None:
        if isinstance(record, HolidaysIn):
            return  # nothing links to the holidays
        name = KIND_MAPS[record.kind]
        old = self._get(name, record.id)
        if old is not None:
            self._relink(old, add=False)
        if isinstance(record, TariffIn) and record.rates:
            record = record.header()  # the rules never read rates; the book's index keeps them
        self._maps[name][record.id] = record
        self._relink(record, add=True)

    def remove(self, kind: str, key: str) -> None:
        """Forget a record; on an overlay only a record the overlay itself added."""
        name = KIND_MAPS[kind]
        old = self._get(name, key)
        if old is None:
            return
        assert self.base is None or self.base._get(name, key) is None, "an overlay cannot hide its base"
        self._relink(old, add=False)
        del self._maps[name][key]

    def _relink(self, record: Record, add: bool) -> None:
        for link, key in _links_of(record):
            members = self._maps[link].get(key)
            if members is None:  # first change of this key here: start from what the base holds
                inherited = None if self.base is None else self.base._get(link, key)
                members = self._maps[link][key] = set(inherited or ())
            if add:
                members.add(record.id)
            else:
                members.discard(record.id)


def _links_of(record: Record) -> list[tuple[str, str]]:
    """(reverse link, key) pairs that lead back to this record."""
    if isinstance(record, AccountIn):
        pairs = [("children", record.parent), ("tariff_accounts", record.tariff)]
    elif isinstance(record, TariffIn):
        pairs = [("owner_tariffs", record.owner)]
    elif isinstance(record, ProviderIn):
        pairs = [("owner_providers", record.owner), ("tariff_providers", record.tariff)]
    elif isinstance(record, DidIn):
        pairs = [("account_dids", record.reseller), ("account_dids", record.user), ("tariff_dids", record.tariff)]
    elif record.kind == "card_group":
        pairs = [("owner_card_groups", record.owner), ("tariff_card_groups", record.tariff)]
    elif record.kind == "card":
        pairs = [("group_cards", record.group)]
    elif record.kind == "device":  # an archived device claims no key (pipeline/reference/device_rules.py)
        claimed = [] if record.archived else record.keys()
        pairs = [("account_devices", record.account), *(("device_keys", key_link(*key)) for key in claimed),
                 *(("device_key_values", value_link(kind, value)) for kind, _, value in claimed if kind != "accountcode")]
    else:
        pairs = []
    return [(link, key) for link, key in pairs if key is not None]
