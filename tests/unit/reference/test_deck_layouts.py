"""Reading decks as carriers write them (pipeline/reference/decks): column names, `--map`, the
leniencies (leading + or 00, blank lines, trailing separators, decimal commas), tier lines folded
into tiers, and every refusal naming the file, the line and the column."""
from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.reference.decks import DeckError, parse_mapping, read_deck


def deck(text: str, layout: str = "generic", mapping: dict | None = None, name: str = "deck.csv"):
    return read_deck([(name, text.encode())], layout, mapping)


def refusal(text: str, layout: str = "generic", mapping: dict | None = None, name: str = "deck.csv") -> str:
    with pytest.raises(DeckError) as caught:
        deck(text, layout, mapping, name)
    return str(caught.value)


def test_a_carriers_columns_plus_and_00_blank_lines_and_trailing_commas():
    rates = deck("Country,Dial Code,Rate (EUR),Connect Fee,Billing Increment,\n"
                 "\n"
                 "Lithuania, +3706 ,0.05,0.01,30/6,,\n"
                 " , , , , ,\n"
                 "Lithuania,00370,0.02,,1/1,\n").rates
    mobile, fixed = rates
    assert (mobile.prefix, mobile.rate, mobile.connection_fee, mobile.min_time, mobile.increment) == \
        ("3706", Decimal("0.05"), Decimal("0.01"), 30, 6)
    assert (fixed.prefix, fixed.connection_fee, fixed.increment, fixed.destination) == ("370", 0, 1, "Lithuania")


def test_a_header_alone_is_no_deck():
    assert refusal("Code,Rate\n\n,,\n", name="rates.csv") == "no rates in rates.csv"
    assert refusal("   \n\n", name="empty.csv") == "empty.csv: is empty"


def test_a_bad_cell_names_file_line_and_column():
    assert refusal("Code,Rate\n370,0.1\n\n371,abc\n") == 'deck.csv line 4, column "Rate": must be a decimal number >= 0 (got "abc")'
    assert refusal("Code,Rate\n37a,0.1\n").startswith('deck.csv line 2, column "Code": ')
    assert refusal("Code,Rate\n370,0.1,9,9\n") == 'deck.csv line 2: has 4 cells, the header has 2 (Code, Rate)'
    assert refusal("Code,Rate\n370,\n") == 'deck.csv line 2, column "Rate": is empty'


def test_tier_lines_of_one_prefix_fold_into_its_tiers_in_any_order():
    rates = deck("prefix,rate,increment,from_seconds\n"
                 "370,0.05,1,300\n"
                 "370,0.2,60,0\n"
                 "371,0.3,1,\n"
                 "370,0.1,1,60\n").rates
    folded = next(rate for rate in rates if rate.prefix == "370")
    assert (folded.rate, folded.increment) == (Decimal("0.2"), 60)
    assert [(t.from_seconds, t.rate, t.increment) for t in folded.tiers] == [(60, Decimal("0.1"), 1),
                                                                            (300, Decimal("0.05"), 1)]
    assert len(rates) == 2


def test_a_repeat_without_tier_lines_names_both_lines_and_the_way_out():
    message = refusal("Code,Rate\n370,0.2\n371,0.1\n370,0.1\n")
    assert message.startswith('deck.csv line 4, column "Code": repeats line 2 of deck.csv for 370')
    assert '"from_seconds" column' in message and '"tiers" cell' in message


def test_tier_lines_that_break_the_layout_are_refused_at_their_line():
    assert refusal("prefix,rate,increment,from_seconds\n370,0.2,60,0\n370,0.1,1,90\n") == (
        'deck.csv line 3, column "from_seconds": tiers[0].from_seconds 90 must be a whole number of the rate\'s own '
        "increment (60 s): a billing block may not reach into the next tier")
    assert refusal("prefix,rate,from_seconds\n370,0.1,60\n") == (
        'deck.csv line 2, column "from_seconds": is a tier of prefix 370 from second 60, but no line gives its '
        "price from second 0")
    assert "one connection fee" in refusal("prefix,rate,connection_fee,from_seconds\n370,0.2,0.1,0\n370,0.1,0.5,60\n")


def test_a_tiers_cell():
    rate = deck("prefix,rate,increment,tiers\n370,0.2,60,60:0.1:1|300:0.05\n").rates[0]
    assert [(t.from_seconds, t.rate, t.increment) for t in rate.tiers] == [(60, Decimal("0.1"), 1),
                                                                          (300, Decimal("0.05"), 1)]
    assert refusal("prefix,rate,increment,tiers\n370,0.2,60,61:0.1\n").startswith('deck.csv line 2, column "tiers": tiers[0]')
    assert 'tier 1 "60-0.1" must be FROM_SECONDS:RATE' in refusal("prefix,rate,tiers\n370,0.2,60-0.1\n")


def test_a_semicolon_deck_with_decimal_commas():
    rate = deck("Prefix;Destination;Rate;Connection Fee\n370;Lithuania;0,0123;0,5\n").rates[0]
    assert (rate.rate, rate.connection_fee) == (Decimal("0.0123"), Decimal("0.5"))
    assert deck("sep=;\nPrefix;Rate\n370;0,1\n").rates[0].rate == Decimal("0.1")


def test_several_codes_in_one_cell_share_the_line():
    rates = deck('Destination,Codes,Rate\nLithuania,"370, 3705; 3706",0.1\n').rates
    assert [rate.prefix for rate in rates] == ["370", "3705", "3706"]


def test_map_names_a_column_skips_one_and_wins_over_a_name():
    text = "Zone,Cost,Price,Notes\nLT,0.1,0.2,x\n"
    assert "is read as rate" in refusal("Zone,Dial,Cost,Price\nLT,370,0.1,0.2\n")
    rates = deck("Zone,Dial,Cost,Price\nLT,370,0.1,0.2\n", mapping={"Dial": "prefix", "price": "rate"}).rates
    assert rates[0].rate == Decimal("0.2")
    assert 'column "Zone": must be' in refusal(text, mapping={"1": "prefix", "Price": "-"})  # "LT" is no code
    assert '--map names "colour"' in refusal(text, mapping={"Zone": "colour"})
    assert "--map names a column the file does not have" in refusal(text, mapping={"Dial": "prefix"})
    with pytest.raises(ValueError, match="must be COLUMN=FIELD"):
        parse_mapping(["Zone"])
    assert parse_mapping(["A=B=prefix"]) == {"A=B": "prefix"}


def test_a_missing_required_column_says_how_to_name_it():
    assert refusal("Zone,Cost\nLT,0.1\n") == ('deck.csv line 1: no column holds the prefix (columns: "Zone", "Cost"); '
                                            "name one with --map COLUMN=prefix")


def test_windows_1252_text_is_read_and_said():
    data = "Code,Destination,Rate\n225,Côte d'Ivoire,0.1\n".encode("cp1252")
    read = read_deck([("deck.csv", data)], "generic")
    assert read.rates[0].destination == "Côte d'Ivoire"
    assert read.notes[0] == "deck.csv: read as Windows-1252 (it is not UTF-8)"


def test_the_contracts_own_columns_read_the_same_under_generic():
    rate = deck("prefix,rate,connection_fee,increment,min_time,grace_time,effective_from,day_type,start,end\n"
                "370,2,0.05,6,30,3,2026-01-01T00:00:00Z,WD,08:00:00,18:59:59\n").rates[0]
    assert (rate.min_time, rate.grace_time, rate.day_type, str(rate.start), rate.effective_from.year) == \
        (30, 3, "WD", "08:00:00", 2026)


def test_files_of_one_deck_are_checked_against_each_other():
    with pytest.raises(DeckError) as caught:
        read_deck([("a.csv", b"Code,Rate\n370,0.1\n"), ("b.csv", b"Code,Rate\n\n370,0.2\n")], "generic")
    assert str(caught.value).startswith('b.csv line 3, column "Code": repeats line 2 of a.csv for 370')


def test_layout_options_are_checked():
    with pytest.raises(DeckError, match="applies to the cgrates layout only"):
        read_deck([("a.csv", b"Code,Rate\n370,0.1\n")], "generic", rating_plan="RP")
    with pytest.raises(DeckError, match='"csv" is not a layout'):
        read_deck([("a.csv", b"Code,Rate\n370,0.1\n")], "csv")
    with pytest.raises(DeckError, match="fixed columns"):
        read_deck([("Rates.csv", b"Id,Rate\n")], "cgrates", {"Id": "prefix"})
