"""Real decks (tests/fixtures/tariffs/real, SOURCES.md) read by each layout and priced: the prices
are those the other system computes for the same call, worked out by hand from its rules."""
from __future__ import annotations

from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.rating.compiled_rate import CompiledRate
from pipeline.rating.pricing import charge
from pipeline.reference.decks import DeckError, read_deck

REAL = Path(__file__).parents[2] / "fixtures" / "tariffs" / "real"
HALF_UP = 0


def files(*paths: Path) -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in paths]


def folder(name: str) -> list[tuple[str, bytes]]:
    return files(*sorted((REAL / name).glob("*.csv")))


def price(rate, billsec: int) -> tuple[int, Decimal]:
    return charge(CompiledRate(rate), billsec, 6, HALF_UP)


def by_prefix(rates) -> dict:
    return {rate.prefix: rate for rate in rates}


def test_ivozprovider_price_list_reads_every_prefix_without_its_plus():
    deck = read_deck(files(REAL / "generic" / "ivozprovider_prices.csv"), "generic")
    rates = by_prefix(deck.rates)
    assert len(rates) == 4743
    afghanistan_areeba = rates["9377"]  # "Afghanistan",+9377,0.273,0.273,1
    assert (afghanistan_areeba.rate, afghanistan_areeba.connection_fee, afghanistan_areeba.increment) == \
        (Decimal("0.273"), Decimal("0.273"), 1)
    assert price(afghanistan_areeba, 60) == (60, Decimal("0.546000"))
    assert any("Target Pattern Name" in note for note in deck.notes)  # skipped, and said so
    named = read_deck(files(REAL / "generic" / "ivozprovider_prices.csv"), "generic",
                      {"Target Pattern Name": "destination"})
    assert by_prefix(named.rates)["9377"].destination == "Afghanistan"


def test_cgrates_tutorial_needs_a_rating_plan_for_its_sms_rate():
    with pytest.raises(DeckError) as caught:
        read_deck(folder("cgrates/tutorial"), "cgrates")
    assert str(caught.value) == ('Rates.csv line 10, column "RateUnit": "1" is 1 ns to CGRateS: write the unit, '
                                 "such as 1s")


def test_cgrates_tutorial_rating_plan_prices_its_two_tiers():
    deck = read_deck(folder("cgrates/tutorial"), "cgrates", rating_plan="RP_1001")
    rates = by_prefix(deck.rates)
    assert set(rates) == {"1002", "1003"}
    rt_20cnt = rates["1002"]  # connect fee 0.4, 0.2/min in 60 s blocks for 60 s, then 0.1/min per second
    assert (rt_20cnt.rate, rt_20cnt.connection_fee, rt_20cnt.increment) == (Decimal("0.2"), Decimal("0.4"), 60)
    assert [(t.from_seconds, t.rate, t.increment) for t in rt_20cnt.tiers] == [(60, Decimal("0.1"), 1)]
    assert price(rt_20cnt, 1) == (60, Decimal("0.600000"))
    assert price(rt_20cnt, 90) == (90, Decimal("0.650000"))  # 0.4 + 0.2 + 0.1 * 30 / 60
    assert rates["1003"].rate == Decimal("0.6")  # RT_1CNT_PER_SEC: 0.01 per 1s
    assert any("MaxCost 0.12 *disconnect" in note for note in deck.notes)


def test_cgrates_old_tutorial_turns_timings_into_day_types_and_windows():
    deck = read_deck(folder("cgrates/oldtutorial"), "cgrates", rating_plan="RP_RETAIL1")
    windows = sorted((r.day_type, r.start, r.end, r.rate) for r in deck.rates if r.prefix == "10")
    assert windows == [
        ("FD", time(0), time(23, 59, 59), Decimal("0.1")),
        ("WD", time(0), time(7, 59, 59), Decimal("0.1")),
        ("WD", time(8), time(18, 59, 59), Decimal("0.4")),  # PEAK: RT_40CNT
        ("WD", time(19), time(23, 59, 59), Decimal("0.1")),
    ]


def test_cgrates_max_cost_free_is_refused_at_its_line():
    with pytest.raises(DeckError) as caught:
        read_deck(folder("cgrates/oldtutorial"), "cgrates", rating_plan="RP_RETAIL2")
    assert str(caught.value).startswith('DestinationRates.csv line 10, column "MaxCost": MaxCost 0.62 with strategy *free')


def test_astpp_initial_increment_then_increment_as_astpp_bills_it():
    deck = read_deck(files(REAL / "astpp" / "originationrates_sample.csv"), "astpp")
    usa = by_prefix(deck.rates)["1"]  # 1,USA,0,0,0.01,30,60
    assert usa.destination == "USA"
    # calc_cost: 0.01/60 * 30 for the initial block, then ceil((31 - 30) / 60) * 60 s
    assert price(usa, 31) == (90, Decimal("0.015000"))
    assert price(usa, 20) == (30, Decimal("0.005000"))
    uk = by_prefix(deck.rates)["44"]  # 30 / 30: a plain 30 s increment
    assert (uk.increment, uk.min_time, uk.tiers) == (30, 0, ())


def test_astpp_termination_sample_skips_strip_and_prepend():
    deck = read_deck(files(REAL / "astpp" / "terminationrates_sample.csv"), "astpp")
    assert sorted(by_prefix(deck.rates)) == ["1", "44"]
    assert not any("Strip" in note for note in deck.notes)  # routing columns are not pricing: skipped quietly


def test_a2billing_doc_sample_with_its_semicolons_and_header():
    deck = read_deck(files(REAL / "a2billing" / "ratecard_doc_sample.csv"), "a2billing")
    afghanistan = by_prefix(deck.rates)["119370"]
    assert (afghanistan.rate, afghanistan.min_time, afghanistan.increment) == (Decimal("0.8135"), 30, 1)
    assert price(afghanistan, 10) == (30, Decimal("0.406750"))


CC_RATECARD_ORDER = ("buyrate buyrateinitblock buyrateincrement rateinitial initblock billingblock connectcharge "
                     "disconnectcharge stepchargea chargea timechargea billingblocka stepchargeb chargeb timechargeb "
                     "billingblockb stepchargec chargec timechargec billingblockc startdate stopdate starttime endtime "
                     "tag rounding_calltime rounding_threshold additional_block_charge additional_block_charge_time"
                     ).split()
COMPLEX_MAP = {str(number): name for number, name in enumerate(CC_RATECARD_ORDER, start=3)}


def test_a2billing_progressive_france_as_its_rate_engine_prices_it():
    first_line = (REAL / "a2billing" / "ratecard_complex_sample.csv").read_bytes().split(b"\n")[0]
    france = read_deck([("complex.csv", first_line)], "a2billing", COMPLEX_MAP).rates[0]
    # fee: connectcharge 0.12 + disconnectcharge 0 + stepchargea 0.12; 1.34/min for 120 s in 20 s
    # blocks (initblock 30 rounds to 40); nothing after cycle a
    assert price(france, 10) == (40, Decimal("1.133333"))
    assert price(france, 60) == (60, Decimal("1.580000"))
    assert price(france, 200) == (200, Decimal("2.920000"))


def test_a2billing_complex_sample_is_refused_at_belgiums_rounding():
    with pytest.raises(DeckError) as caught:
        read_deck(files(REAL / "a2billing" / "ratecard_complex_sample.csv"), "a2billing", COMPLEX_MAP)
    assert str(caught.value).startswith('ratecard_complex_sample.csv line 2, column "28 (rounding_calltime)": '
                                        "rounding_calltime 360")


def test_a2billing_without_a_header_asks_for_the_extra_columns():
    with pytest.raises(DeckError) as caught:
        read_deck(files(REAL / "a2billing" / "ratecard_complex_sample.csv"), "a2billing")
    assert "has 31 columns and no header: name column(s) 4, 5" in str(caught.value)
