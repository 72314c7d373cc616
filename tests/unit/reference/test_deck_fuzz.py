"""Every deck reader, fed random decks (known and junk headers, odd cells, quotes, separators, bytes):
it returns rates or raises DeckError, never anything else, and a rate it returns passes RateIn's own
validation unchanged."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.reference.decks import LAYOUTS, DeckError, a2billing, astpp, generic, read_deck
from pipeline.schemas.reference import RateIn

HEADS = sorted({name for names in (generic.NAMES, astpp.NAMES, a2billing.NAMES) for field in names.names
                for name in (field, *names.names[field][:2])}) + ["Code", "Rate (USD)", "Cost / Min", "#Id", "x"]
CELLS = ["370", "+3706", "0037", "", " ", "0.1", "0,5", "1E3", "-1", "60", "30/6", "0/0", "6/", "60s", "1m30s",
         "1", "0", "*any", "2026-01-01", "2026-13-01", "08:00:00", "WD", "FD", "all", "60:0.1:1|120:0.05",
         "60:0.1:0", "a:b:c", "\"", "\"q,\"\"x\"", "é", "\x00", "99999999999999999999999", "0.0000000001",
         "1;2;3;4;5", "6;7", "*disconnect", "*free", "RT_1", "DST_1", "DR_1", "RP_1", "ALWAYS", "10079"]
SEPARATORS = [",", ";", "\t"]


@st.composite
def tables(draw, heads=HEADS) -> str:
    separator = draw(st.sampled_from(SEPARATORS))
    width = draw(st.integers(1, 8))
    header = [draw(st.sampled_from(heads)) for _ in range(width)]
    rows = [[draw(st.sampled_from(CELLS) | st.text(max_size=6)) for _ in range(draw(st.integers(0, width + 2)))]
            for _ in range(draw(st.integers(0, 6)))]
    lines = [separator.join(header)] * draw(st.sampled_from([0, 1, 1, 1])) + [separator.join(row) for row in rows]
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


def _check(files: list[tuple[str, bytes]], layout: str, mapping=None, rating_plan=None) -> None:
    try:
        read = read_deck(files, layout, mapping, rating_plan)
    except DeckError:
        return
    assert read.rates
    for rate in read.rates[:20]:
        assert RateIn.model_validate(rate.model_dump()) == rate


fuzz = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fuzz
@given(layout=st.sampled_from(["generic", "astpp", "a2billing"]), text=tables(),
       mapping=st.dictionaries(st.sampled_from(HEADS + ["1", "2", "4", "9"]),
                               st.sampled_from(["prefix", "rate", "-", "tiers", "from_seconds", "initblock", "bogus"]),
                               max_size=2))
def test_one_file_layouts_never_fail_unhandled(layout, text, mapping):
    _check([("deck.csv", text.encode())], layout, mapping)


@fuzz
@given(layout=st.sampled_from(LAYOUTS), data=st.binary(max_size=300))
def test_any_bytes_are_a_deck_or_a_deck_error(layout, data):
    _check([("Rates.csv", data)], layout)


CGRATES_HEADS = ["Id", "Tag", "Prefix", "ConnectFee", "Rate", "RateUnit", "RateIncrement", "GroupIntervalStart",
                 "DestinationId", "RatesTag", "RoundingMethod", "RoundingDecimals", "MaxCost", "MaxCostStrategy",
                 "DestinationRatesId", "TimingTag", "Weight", "Years", "Months", "MonthDays", "WeekDays", "Time"]


@fuzz
@given(destinations=tables(CGRATES_HEADS), rates=tables(CGRATES_HEADS), destination_rates=tables(CGRATES_HEADS),
       plans=st.none() | tables(CGRATES_HEADS), timings=st.none() | tables(CGRATES_HEADS),
       rating_plan=st.none() | st.sampled_from(["RP_1", "x"]))
def test_cgrates_never_fails_unhandled(destinations, rates, destination_rates, plans, timings, rating_plan):
    files = [("Destinations.csv", destinations), ("Rates.csv", rates), ("DestinationRates.csv", destination_rates)]
    files += [(name, text) for name, text in (("RatingPlans.csv", plans), ("Timings.csv", timings)) if text is not None]
    _check([(name, text.encode()) for name, text in files], "cgrates", rating_plan=rating_plan)


@fuzz
@given(rate_rows=st.lists(st.tuples(st.sampled_from(["RT_1", "RT_2"]), st.sampled_from(["0", "0.1", "", "x"]),
                                    st.sampled_from(["0.2", "1", "0.01", "-1"]),
                                    st.sampled_from(["60s", "1s", "7s", "0", "1", "1m", "1h", "30"]),
                                    st.sampled_from(["60s", "1s", "10s", "0s", "45s"]),
                                    st.sampled_from(["0s", "60s", "30s", "90s", "0", "1m"])), max_size=5),
       timing=st.sampled_from(["*any", "PEAK", "ALWAYS"]), week_days=st.sampled_from(["1;2;3;4;5", "6;7", "*any", "1"]))
def test_cgrates_well_formed_plans_with_odd_values(rate_rows, timing, week_days):
    """Plans whose files all have the right columns, so the readers go deep into the values."""
    files = {
        "Destinations.csv": "#Id,Prefix\nDST_1,+370\nDST_1,3706\nDST_2,0044\n",
        "Rates.csv": "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n"
                     + "".join(",".join(row) + "\n" for row in rate_rows),
        "DestinationRates.csv": "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\n"
                                "DR_1,DST_1,RT_1,*up,4,0,\nDR_2,DST_2,RT_2,*up,4,0,\nDR_3,*any,RT_1,*up,4,0,\n",
        "RatingPlans.csv": f"#Id,DestinationRatesId,TimingTag,Weight\nRP_1,DR_1,{timing},10\nRP_1,DR_2,*any,10\n",
        "Timings.csv": f"#Tag,Years,Months,MonthDays,WeekDays,Time\nPEAK,*any,*any,*any,{week_days},08:00:00\n"
                       "ALWAYS,*any,*any,*any,*any,00:00:00\n",
    }
    for rating_plan in (None, "RP_1"):
        _check([(name, text.encode()) for name, text in files.items()], "cgrates", rating_plan=rating_plan)
