"""Calls to DIDs priced for every party, exactly (docs/domain.md "DIDs"): the worked cases of the
docs/dids.md, through process_cdr, so each is the record cdr.rated gets and the debits the
charge stage sends (charges_for)."""
from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from pipeline.balances.charges import charges_for
from pipeline.cdr.process import REJECT_REASONS, process_cdr
from pipeline.rating.did import did_price
from pipeline.schemas import wire
from pipeline.schemas.reference import DidRate
from tests.unit.cdr.sample_book import RATED_AT, SOURCE
from tests.unit.rating.did_book import did_book

D = Decimal


@pytest.fixture(scope="module")
def book():
    return did_book()


def did_cdr(did: str, account: str = "", billsec: int = 60, provider: str | None = "p1", **changes) -> dict:
    cdr = {"call_id": f"c-{did}-{account}-{billsec}", "server_id": "ast1", "account": account, "dst": did,
           "did": did, "start_time": "2026-11-25T10:00:00Z", "billsec": billsec, **changes}
    if provider is not None:
        cdr["provider"] = provider
    return cdr


def rated(book, cdr: dict) -> dict:
    out = process_cdr(b"k", orjson.dumps(cdr), SOURCE, book, RATED_AT)
    assert out.rated, out.value
    return wire.decode("rated_call.v1", out.value)


# caller, DID, billsec -> incoming, owner, reseller->admin, provider, reseller profit, admin profit, debits
WORKED_CASES = [
    # a local caller (u2) calls u1's DID, delivered by p1: everybody pays
    ("u2", "37052000001", 60, "0.100000", "0.800000", "0.500000", "0.020000", "0.300000", "0.620000",
     {"u2": "0.100000", "u1": "0.800000", "r1": "0.500000"}),
    # an outside caller: no incoming price
    ("", "37052000001", 60, "0.000000", "0.800000", "0.500000", "0.020000", "0.300000", "0.520000",
     {"u1": "0.800000", "r1": "0.500000"}),
    # the owner dials his own DID: no owner price, he pays the incoming price only
    ("u1", "37052000001", 60, "0.100000", "0.000000", "0.000000", "0.020000", "0.000000", "0.120000",
     {"u1": "0.100000"}),
    # a direct user's DID: he pays the admin's owner rate
    ("", "37052000002", 90, "0.000000", "0.750000", "0.000000", "0.030000", "0.000000", "0.780000",
     {"d1": "0.750000"}),
    # unassigned: no owner leg, the provider's price is the admin's
    ("", "37052000003", 60, "0.000000", "0.000000", "0.000000", "0.020000", "0.000000", "0.020000", {}),
    # a DID the reseller holds himself: he pays the admin, at a loss to him
    ("", "37052000004", 60, "0.000000", "0.500000", "0.000000", "0.020000", "-0.500000", "0.520000",
     {"r1": "0.500000"}),
    # no owner_rate: the user pays the admin's rate to his reseller, who passes it on
    ("", "37052000005", 60, "0.000000", "0.500000", "0.500000", "0.020000", "0.000000", "0.520000",
     {"u2": "0.500000", "r1": "0.500000"}),
    # the reseller calls his user's DID: both his debits in one
    ("r1", "37052000001", 30, "0.050000", "0.400000", "0.250000", "0.010000", "0.150000", "0.310000",
     {"r1": "0.300000", "u1": "0.400000"}),
    # negative rates: -0.3 * 61/60 + 0.05 = -0.255 credited to the caller; -1 * 61/60 = -1.016666..
    # rounded half-up away from zero; the admin pays the carrier 0.010166.. -> -0.010167
    ("u2", "37052000006", 61, "-0.255000", "-1.016667", "0.000000", "-0.010167", "0.000000", "-1.281834",
     {"u2": "-0.255000", "d1": "-1.016667"}),
    # the same engine rules: 60 s increments (65 s bill 120), 5 s grace (4 s is free)
    ("", "37052000007", 65, "0.000000", "2.000000", "0.000000", "0.000000", "0.000000", "2.000000",
     {"d1": "2.000000"}),
    ("", "37052000007", 4, "0.000000", "0.000000", "0.000000", "0.000000", "0.000000", "0.000000", {}),
]


@pytest.mark.parametrize("caller, did, billsec, incoming, owner, reseller_owner, provider, reseller_profit, "
                         "admin_profit, debits", WORKED_CASES)
def test_worked_case(book, caller, did, billsec, incoming, owner, reseller_owner, provider, reseller_profit,
                     admin_profit, debits):
    record = rated(book, did_cdr(did, caller, billsec))
    prices = (record["did_incoming_price"], record["did_owner_price"], record["did_reseller_owner_price"],
              record["did_provider_price"], record["reseller_profit"], record["admin_profit"])
    assert prices == (incoming, owner, reseller_owner, provider, reseller_profit, admin_profit)
    assert {account: str(amount) for account, amount in charges_for(record)} == debits
    # the call's outgoing legs are not priced: the DID's rates are the whole price
    assert (record["user_price"], record["user_tariff"], record["reseller_price"]) == ("0.000000", "", "0")


def test_record_names_the_did_its_owner_and_the_reseller_above_him(book):
    record = rated(book, did_cdr("+370 520 00001", "u2"))
    assert (record["did"], record["did_owner"], record["reseller"], record["account"]) == \
        ("37052000001", "u1", "r1", "u2")
    assert (record["version"], record["rerate_id"]) == (1, "")


def test_unanswered_call_costs_nobody_anything(book):
    record = rated(book, did_cdr("37052000001", "u2", 0, disposition="NO ANSWER"))
    assert charges_for(record) == [] and record["admin_profit"] == "0.000000"


def test_without_a_provider_there_is_no_provider_price(book):
    record = rated(book, did_cdr("37052000001", "u2", provider=None))
    assert record["did_provider_price"] == "0.000000" and record["admin_profit"] == "0.600000"


@pytest.mark.parametrize("cdr, reason, named", [
    (did_cdr("37059999999", "u2"), "unknown_did", '"37059999999"'),
    ({**did_cdr("abc", "u2"), "dst": "370"}, "unknown_did", 'DID ""'),
    (did_cdr("37052000001", "nobody"), "unknown_account", '"nobody"'),
    (did_cdr("37052000001", "u2", provider="p9"), "unknown_provider", '"p9"'),
    ({**did_cdr("37052000001", ""), "did": None}, "schema", "account"),  # no DID: the caller is required
])
def test_bad_did_calls_are_rejected_with_a_reason(book, cdr, reason, named):
    out = process_cdr(b"k", orjson.dumps(cdr), SOURCE, book, RATED_AT)
    assert not out.rated and out.reason == reason
    assert named in orjson.loads(out.value)["detail"]
    assert reason in REJECT_REASONS


def test_rated_call_charges_and_charges_for_the_record_agree(book):
    from pipeline.cdr.process import rate_cdr
    from pipeline.schemas.cdr import CdrIn
    for caller, did, billsec, *_ in WORKED_CASES:
        cdr = did_cdr(did, caller, billsec)
        in_memory = [(a, x) for a, x in rate_cdr(CdrIn.model_validate(cdr), book).charges() if x != 0]
        assert in_memory == charges_for(rated(book, cdr))


@pytest.mark.parametrize("rate, billsec, price", [
    (DidRate(rate="2", increment=60), 65, "4.000000"),
    (DidRate(rate="1", increment=6, min_time=30), 5, "0.500000"),
    (DidRate(rate="1", increment=6, min_time=30), 31, "0.600000"),
    (DidRate(rate="0.3", connection_fee="0.05"), 60, "0.350000"),
    (DidRate(rate="1.2", grace_time=5), 4, "0.000000"),
    (DidRate(rate="-1"), 1, "-0.016667"),
    (DidRate(rate="-0.000001", connection_fee="0.0000005"), 30, "0.000000"),  # -0.0000005 + 0.0000005
    (DidRate(rate="1", connection_fee="-0.0000005"), 0, "0.000000"),  # unanswered: no fee either
])
def test_did_rates_follow_the_tariff_pricing_rules(rate, billsec, price):
    """The pricing table of docs/domain.md, and signed rounding: the size rounds, half up away from zero."""
    assert str(did_price(rate, billsec)) == price
