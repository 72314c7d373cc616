"""A stored call priced again: the new version, and each account's exact difference."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from pipeline.balances.charges import charges_for
from pipeline.rerate.reprice import NotRepriced, Repriced, reprice, stored_cdr
from pipeline.schemas.devices import DeviceIn
from pipeline.schemas.reference import AccountIn, DidIn, RateIn
from tests.unit.cdr.sample_book import sample_book, seed_cdr
from tests.unit.rating.did_book import did_book
from tests.unit.rerate.stored import stored_row

D = Decimal
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def with_retail_rate(book, rate: str):
    """r1's retail tariff with 370 at `rate` (it is 2/min in the sample)."""
    book.update_rates("t-r1-retail", [RateIn(prefix="370", rate=rate)])
    return book


def test_the_stored_cdr_is_the_one_rated():
    book = sample_book()
    row = stored_row(book, seed_cdr(userfield="kept"))
    cdr = stored_cdr(row)
    assert (cdr.account, cdr.dst, cdr.billsec, cdr.provider, cdr.start_time) == \
        ("u1", "37052123456", 60, "p1", datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc))
    assert cdr.extra_fields() == {"userfield": "kept"}


def test_unchanged_prices_give_no_new_version_and_no_difference():
    book = sample_book()
    result = reprice(stored_row(book, seed_cdr()), book, NOW, "run-1")
    assert isinstance(result, Repriced) and result.record is None and result.differences == {}


def test_a_fixed_tariff_gives_version_plus_one_and_the_users_difference():
    book = sample_book()
    row = stored_row(book, seed_cdr())  # u1 paid 2.000000 for 60 s at 2/min
    result = reprice(row, with_retail_rate(book, "2.5"), NOW, "run-1")
    assert result.differences == {"u1": D("0.5")}  # r1's price did not change
    record = result.record
    assert (record["version"], record["rerate_id"], record["user_price"]) == (2, "run-1", "2.500000")
    assert record["reseller_profit"] == "1.300000"
    # what the charge stage would debit for the new version, minus what it debited: the difference
    assert {a: x for a, x in charges_for(record)}["u1"] - D(row["user_price"]) == D("0.5")


def test_a_second_rerate_starts_from_the_last_version():
    book = sample_book()
    row = stored_row(book, seed_cdr(), version=2, rerate_id="run-1")
    assert reprice(row, with_retail_rate(book, "3"), NOW, "run-2").record["version"] == 3


def test_a_did_call_moves_every_party_it_charges():
    book = did_book()
    row = stored_row(book, {"call_id": "c", "server_id": "ast1", "account": "u2", "dst": "37052000001",
                            "did": "37052000001", "start_time": "2026-11-25T10:00:00Z", "billsec": 60})
    book.apply(DidIn(number="37052000001", reseller="r1", user="u1", owner_rate={"rate": "0.9"},
                     rates={"incoming": {"rate": "-0.1"}, "owner": {"rate": "0.4"}}))
    result = reprice(row, book, NOW, "run-1")
    assert result.differences == {"u2": D("-0.2"), "u1": D("0.1"), "r1": D("-0.1")}


def test_a_call_that_cannot_be_priced_now_is_left_as_it_was():
    book = sample_book()
    row = stored_row(book, seed_cdr())
    book.delete("tariff", "t-r1-retail")
    result = reprice(row, book, NOW, "run-1")
    assert isinstance(result, NotRepriced) and result.reason == "unknown_tariff" and result.key == "ast1/1732528800.42"


def test_a_call_whose_payer_changed_moves_both():
    """u1 moved under r2 before the run: r1 gets his price back, r2 pays his."""
    book = sample_book()
    row = stored_row(book, seed_cdr())
    book.apply(AccountIn(id="u1", type="user", parent="r2", tariff="t-r2-retail"))
    result = reprice(row, book, NOW, "run-1")
    diff = result.differences
    assert diff["r1"] == -D(row["reseller_price"]) and "r2" in diff
    assert sum(result.new_owed.values()) - sum(result.old_owed.values()) == sum(diff.values())


def test_segments_of_one_call_are_repriced_apart_and_a_device_caller_keeps_his_account():
    book = sample_book()
    book.apply(DeviceIn(id="desk", account="u1", sip_user="1001"))
    first = stored_row(book, seed_cdr(segment="1", account="", device={"sip_user": "1001"}))
    second = stored_row(book, seed_cdr(segment="2", billsec=30))
    assert stored_cdr(first).segment == "1" and stored_cdr(first).account == "u1"
    book.delete("device", "desk")  # the stored call is the account's, whatever became of the device
    results = [reprice(row, with_retail_rate(book, "2.5"), NOW, "run-1") for row in (first, second)]
    assert [r.key for r in results] == ["ast1/1732528800.42/1", "ast1/1732528800.42/2"]
    assert [r.differences for r in results] == [{"u1": D("0.5")}, {"u1": D("0.25")}]
    assert [r.record["segment"] for r in results] == ["1", "2"]
