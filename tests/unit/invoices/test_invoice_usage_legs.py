"""On current ClickHouse (chdb): an account's invoice usage is what its balance was charged.

The oracle is the balance stage's own rule, pipeline/balances/charges.py `owed_by`, applied to
the same priced calls: ordinary calls through a reseller and direct, a reseller's own provider,
and calls to DIDs (from outside, from a user of another reseller, the owner dialling his own DID,
a DID a reseller holds himself, a DID with a negative rate, an unassigned DID). Before DID legs
were invoiced, u1's invoice missed what his DID cost him and r1's what he paid the admin for it.
The same rule on ClickHouse 18.16: tests/integration/test_did_calls.py.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from pipeline.balances.charges import owed_by
from pipeline.invoices import queries
from pipeline.invoices.compute import DestinationUsage, destination_description
from pipeline.invoices.period import Period
from pipeline.sinks.rows import row_from_record
from tests.unit.chdb_kit import migrated_session, run
from tests.unit.sinks.rated_example import example_record, literal_insert

START, END = Period(2026, 10).bounds(ZoneInfo("UTC"))
TYPES = {"u1": "user", "u2": "user", "u9": "user", "d1": "user", "r1": "reseller", "r2": "reseller"}
ZERO = Decimal(0)


def _millis(day: int, month: int = 10) -> int:
    return int(datetime(2026, month, day, 12, tzinfo=timezone.utc).timestamp() * 1000)


def plain(call_id, account, reseller, user_price, reseller_price, own_provider=False, day=3) -> dict:
    return example_record(call_id=call_id, account=account, reseller=reseller, start_time=_millis(day),
                          user_price=user_price, reseller_price=reseller_price, own_provider=own_provider)


def to_did(call_id, caller, owner, reseller, incoming, owner_price, reseller_owner, billsec=60, day=4) -> dict:
    return example_record(call_id=call_id, account=caller, reseller=reseller, did="37052000001",
                          dst="37052000001", start_time=_millis(day), billsec=billsec, user_tariff="",
                          user_prefix="", user_price="0", reseller_tariff="", reseller_prefix="",
                          reseller_price="0", did_owner=owner, did_incoming_price=incoming,
                          did_owner_price=owner_price, did_reseller_owner_price=reseller_owner)


CALLS = [
    plain("a", "u1", "r1", "2.000000", "1.200000"),
    plain("b", "u2", "r1", "1.000001", "0.600001"),
    plain("own", "u2", "r1", "0.500000", "0", own_provider=True),  # r1's own provider: r1 pays nobody
    plain("direct", "d1", "", "1.500000", "0"),
    plain("r2", "u9", "r2", "3.333333", "1.111111"),
    plain("november", "u1", "r1", "9.000000", "5.000000", day=1) | {"start_time": datetime(2026, 11, 1, 0, 0, 1, tzinfo=timezone.utc)},
    to_did("outside", "", "u1", "r1", "0", "0.800000", "0.500000"),
    to_did("from-u9", "u9", "u1", "r1", "0.100000", "0.800000", "0.500000", billsec=30),
    to_did("own-did", "u1", "u1", "r1", "0.100000", "0", "0.500000"),  # the owner dials his DID
    to_did("r2-held", "u2", "r2", "r2", "0.100000", "-0.200000", "0"),  # r2 holds it: one leg, a credit
    to_did("unassigned", "d1", "", "", "0.100000", "0", "0"),
]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    session = migrated_session(tmp_path_factory.mktemp("chdb"), "rating")
    rows = [row_from_record(record) for record in CALLS]
    session.query(literal_insert("rating", rows))
    session.query(literal_insert("rating", rows[:3]))  # re-sent: FINAL counts them once
    yield session
    session.close()


def charged(account: str) -> Decimal:
    """What the balance stage debits this account for October's calls."""
    return sum((amount for record in CALLS if START <= record["start_time"] < END
                for payer, amount in owed_by(record) if payer == account), ZERO)


@pytest.mark.parametrize("account", sorted(TYPES))
def test_an_accounts_usage_is_exactly_what_its_balance_was_charged(session, account):
    rows = run(session, queries.account_usage("rating", TYPES[account], account, START, END))
    assert {row[0] for row in rows} <= {account}
    assert sum((Decimal(row[5]) for row in rows), ZERO) == charged(account)


@pytest.mark.parametrize("account_type", ["user", "reseller"])
def test_every_accounts_usage_and_totals_agree_with_the_single_account_query(session, account_type):
    every = run(session, queries.all_usage("rating", account_type, START, END))
    totals = {invoiced: Decimal(amount) for invoiced, amount in run(session, queries.totals("rating", account_type, START, END))}
    for account, kind in TYPES.items():
        if kind != account_type:
            continue
        mine = [row for row in every if row[0] == account]
        assert mine == run(session, queries.account_usage("rating", kind, account, START, END))
        assert totals.get(account, ZERO) == charged(account)


def test_a_did_gets_lines_of_its_own_with_the_calls_duration(session):
    u1 = {row[1]: row for row in run(session, queries.account_usage("rating", "user", "u1", START, END))}
    assert sorted(u1) == ["370", "did-in:37052000001", "did:37052000001"]
    # received: from outside and from u9 (60 + 30 s), and his own call to it (owner leg 0)
    assert u1["did:37052000001"][3:] == ["3", "150", "1.6"]
    assert u1["did-in:37052000001"][3:] == ["1", "60", "0.1"]  # he called it himself
    r1 = {row[1]: row[3:] for row in run(session, queries.account_usage("rating", "reseller", "r1", START, END))}
    # his users' calls (u2's own-provider call costs him nothing here), and u1's DID: 3 x 0.5
    assert r1 == {"370": ["2", "120", "1.800001"], "did:37052000001": ["3", "150", "1.5"]}
    r2 = {row[1]: row[3:] for row in run(session, queries.account_usage("rating", "reseller", "r2", START, END))}
    assert r2["did:37052000001"] == ["1", "60", "-0.2"]  # he holds the DID: one leg, a credit


def test_did_lines_are_named_for_what_they_are():
    line = DestinationUsage("did:37052000001", 3, 150, Decimal("1.6"))
    assert destination_description(line) == "DID 37052000001: calls received"
    line = DestinationUsage("did-in:37052000001", 1, 60, Decimal("0.1"))
    assert destination_description(line) == "Calls to DID 37052000001"
    assert destination_description(DestinationUsage("370", 1, 60, Decimal(1), "Lithuania")) == "Lithuania (370)"
