"""Write-side rules of reference data (docs/contract.md "Reference data", ownership rules), one place per rule.

`check_records(records, book, writer)` is the one entry point: `ref apply` calls it as the admin,
the API as the caller. Records are taken in order, each checked against the book plus the records
before it that passed (a refused record is not applied, so what refers to it is refused too):
- may the writer write it? (`_may_write`: against what exists before the record: a reseller
  writes only his own users, tariffs, providers and the DIDs the admin gave him, and never the
  switch (`server`) that serves an account);
- is the data consistent once it is written? (`ref_consistency.consistent`: the record itself,
  and every record that depends on it: a tariff's users and providers, an account's children...).
Each answer is a sentence naming the records and the rule. The checks follow the graph's reverse
links, so a run costs what it touches, never a scan of the book per record.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from pipeline.reference import alert_rules, card_rules, device_rules
from pipeline.reference.archive_rules import archive_rule
from pipeline.reference.consistency import consistent
from pipeline.reference.graph import RefGraph
from pipeline.reference.records import Record
from pipeline.reference.write_limits import write_rule
from pipeline.schemas.alerts import AlertIn
from pipeline.schemas.cards import CardGroupIn, CardIn
from pipeline.schemas.devices import DeviceIn
from pipeline.schemas.reference import ADMIN_ID, AccountIn, DidIn, HolidaysIn, ProviderIn, TariffIn


class BookWithGraph(Protocol):
    """The reference data as the write rules read it: pipeline.reference.book.ReferenceBook, which
    calls these rules itself (book.check_ownership), so it is named here by what it offers."""

    @property
    def graph(self) -> RefGraph: ...


@dataclass(frozen=True, slots=True)
class Problem:
    position: int  # index of the record in the list checked
    rule: str  # the broken rule, as a sentence naming the records involved


def check_records(records: Iterable[Record], book: BookWithGraph, writer: str = ADMIN_ID) -> list[Problem]:
    """Every record `writer` (an account id) may not write or that would break the reference data.
    The book is not changed."""
    graph = book.graph.overlay()
    problems = []
    for position, record in enumerate(records):
        rule = check_one(graph, record, writer)
        if rule is not None:
            problems.append(Problem(position, rule))
    return problems


def check_one(graph: RefGraph, record: Record, writer: str = ADMIN_ID) -> str | None:
    """The rule `record` breaks, or None, in which case it is now applied to `graph`."""
    rule = _may_write(graph, record, writer)
    if rule is not None or isinstance(record, HolidaysIn):
        return rule
    old = graph.record(record.kind, record.id)
    rule = write_rule(graph, record, old)  # ids and lengths: a create is told from an update here
    if rule is not None:
        return rule
    graph.put(record)
    rule = consistent(graph, record) or archive_rule(graph, record)
    if rule is not None:  # undo: later records see the data without it
        if old is None:
            graph.remove(record.kind, record.id)
        else:
            graph.put(old)
    return rule


def check_ownership(book: BookWithGraph, record: Record, actor: str | None = None) -> str | None:
    """One record: the rule it breaks against the book, or None."""
    problems = check_records([record], book, actor or ADMIN_ID)
    return problems[0].rule if problems else None


# -- who may write what ----------------------------------------------------------------------------

def _may_write(graph: RefGraph, record: Record, writer: str) -> str | None:
    if isinstance(record, AlertIn):  # alerts: the admin on anything, a reseller his own
        acting = graph.account(writer)
        if writer != ADMIN_ID and (acting is None or acting.type != "reseller"):
            return f'"{writer}" may not write reference data: only the admin and resellers do'
        return alert_rules.writer_rule(graph, record, writer)
    if isinstance(record, (CardGroupIn, CardIn)):  # calling cards: the admin any, a reseller his own groups
        acting = graph.account(writer)
        if writer != ADMIN_ID and (acting is None or acting.type != "reseller"):
            return f'"{writer}" may not write reference data: only the admin and resellers do'
        return card_rules.writer_rule(graph, record, writer)
    if isinstance(record, DeviceIn):  # devices: the admin any, a reseller his users' and his own
        acting = graph.account(writer)
        if writer != ADMIN_ID and (acting is None or acting.type != "reseller"):
            return f'"{writer}" may not write reference data: only the admin and resellers do'
        return device_rules.writer_rule(graph, record, writer)
    if writer == ADMIN_ID:
        # the admin writes every record, a DID's owner_rate included: the price a reseller charges
        # his user for it, which the admin may set as he may write a reseller's tariffs (`ref apply`
        # loading an installation, or acting for a reseller); docs/dids.md
        return None
    acting = graph.account(writer)
    if acting is None or acting.type != "reseller":
        return f'"{writer}" may not write reference data: only the admin and resellers do'
    if isinstance(record, HolidaysIn):
        return "only the admin sets the installation's holidays"
    old = graph.record(record.kind, record.id)
    if isinstance(record, AccountIn):
        if record.type != "user" or record.parent != writer:
            return f'reseller "{writer}" may only write users of his own (account "{record.id}")'
        if old is not None and (old.type != "user" or old.parent != writer):
            return (f'reseller "{writer}" may only write users of his own: account "{record.id}" is '
                    f'{_whose_account(old)}')
        return _server_rule(record, old, acting)
    elif isinstance(record, (TariffIn, ProviderIn)):
        if record.owner != writer:
            return f'reseller "{writer}" may only write {record.kind}s of his own ({record.kind} "{record.id}")'
        if old is not None and old.owner != writer:
            return (f'reseller "{writer}" may only write {record.kind}s of his own: {record.kind} "{record.id}" '
                    f'belongs to "{old.owner}"')
    elif isinstance(record, DidIn):
        if old is None:
            return f'only the admin creates DIDs (DID "{record.number}")'
        if old.reseller != writer or record.reseller != writer:
            return f'reseller "{writer}" can only assign DIDs that are his (DID "{record.number}")'
        if record.rates != old.rates:
            return f'only the admin sets the rates of a DID (DID "{record.number}"); its reseller sets owner_rate'
        if record.tariff is not None and record.tariff != old.tariff:
            tariff = graph.tariff(record.tariff)
            if tariff is not None and tariff.owner != writer:
                return (f'reseller "{writer}" may only give DID "{record.number}" a tariff of his own; '
                        f'tariff "{tariff.id}" belongs to "{tariff.owner}"')
    return None


def _server_rule(record: AccountIn, old: AccountIn | None, reseller: AccountIn) -> str | None:
    """`server` picks the switch that receives the account's block signals: the admin's to set. A
    reseller keeps what is there; a new user of his is on no switch of its own or on his."""
    allowed = (old.server,) if old is not None else (None, reseller.server)
    if record.server in allowed:
        return None
    return (f'only the admin sets which switch serves an account: reseller "{reseller.id}" may not set server '
            f'"{record.server or "global"}" on account "{record.id}" (allowed: '
            + " or ".join(f'"{server or "global"}"' for server in dict.fromkeys(allowed)) + ")")


def _whose_account(account: AccountIn) -> str:
    return f'a {account.type}' + (f' of "{account.parent}"' if account.parent else "")
