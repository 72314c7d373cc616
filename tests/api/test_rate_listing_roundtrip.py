"""A tariff's rates back from the compiled index (pipeline/api/rate_listing.py): every field of every
version, tiers and destination names included, comes back as written; the CSV download reads back
through the upload's own reader to the same rates; the status of each version is what the lookup
does with it; a page is the same slice as the whole list."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.api.destination_book import DestinationBook
from pipeline.api.rate_listing import RateSearch, all_records, page, rates_csv, rows
from pipeline.api.rates_upload import rates_from_csv
from pipeline.schemas.reference import RateIn, TariffIn, rate_version_key
from tests.unit.rating.tiers_model import tiered_rates

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
money = st.decimals(min_value=Decimal("0"), max_value=Decimal("99"), places=9).map(lambda d: format(d, "f"))
moments = st.sampled_from([datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2025, 3, 1, tzinfo=timezone.utc),
                           NOW - timedelta(seconds=1), NOW, NOW + timedelta(days=30, seconds=7)])
windows = st.sampled_from([("all", time(0), time(23, 59, 59)), ("WD", time(8), time(17, 59, 59)),
                           ("FD", time(0), time(23, 59, 59)), ("all", time(18), time(23, 59, 59))])
names = st.sampled_from(["", "Lithuania mobile", "=cmd|' /C calc'!A0", "Île, \"quoted\"\nnewline"])


@st.composite
def rate_versions(draw) -> list[RateIn]:
    found: dict[tuple, RateIn] = {}
    for _ in range(draw(st.integers(0, 25))):
        fields = draw(tiered_rates(money=money, max_tiers=3))
        day_type, start, end = draw(windows)
        rate = RateIn.model_validate({**fields, "prefix": draw(st.sampled_from(["", "3", "37", "370", "3706", "44"])),
                                      "effective_from": draw(moments), "day_type": day_type, "start": start,
                                      "end": end, "destination": draw(names)})
        found[rate_version_key(rate)] = rate
    return list(found.values())


def book_of(rates: list[RateIn]) -> DestinationBook:
    book = DestinationBook()
    book.apply(TariffIn(id="t", rates=tuple(rates)))
    return book


@settings(max_examples=80, deadline=None)
@given(rates=rate_versions())
def test_every_version_comes_back_from_the_index_as_written(rates):
    book = book_of(rates)
    back = all_records(book.tariff_index("t"), book.destination_names("t"))
    assert sorted(back, key=repr) == sorted(rates, key=repr)


@settings(max_examples=50, deadline=None)
@given(rates=rate_versions())
def test_the_csv_download_reads_back_to_the_same_rates(rates):
    book = book_of(rates)
    text = rates_csv(book.tariff_index("t"), RateSearch(), NOW, book.destination_names("t"))
    back = list(rates_from_csv(text.encode())) if rates else []
    # a name that would start a spreadsheet formula is written with a leading ' (csv_export.py)
    guarded = [r.model_copy(update={"destination": "'" + r.destination}) if r.destination.startswith("=") else r
               for r in rates]
    assert sorted(back, key=repr) == sorted(guarded, key=repr)


@settings(max_examples=50, deadline=None)
@given(rates=rate_versions(), limit=st.integers(1, 7), offset=st.integers(0, 30))
def test_a_page_is_a_slice_of_the_whole_list(rates, limit, offset):
    index = book_of(rates).tariff_index("t")
    everything = list(rows(index, RateSearch(), NOW))
    shown, total = page(index, RateSearch(), NOW, limit, offset)
    assert total == len(everything) == len(rates)
    assert [(r.prefix, r.rate.version_key()) for r in shown] == \
        [(r.prefix, r.rate.version_key()) for r in everything[offset:offset + limit]]
    assert [r.prefix for r in everything] == sorted(r.prefix for r in everything)


def rate(prefix, value, when, day_type="all", start=time(0), end=time(23, 59, 59), destination="") -> RateIn:
    return RateIn(prefix=prefix, rate=value, effective_from=when, day_type=day_type, start=start, end=end,
                  destination=destination)


def test_status_says_what_the_lookup_takes_now_and_search_narrows():
    old = datetime(2020, 1, 1, tzinfo=timezone.utc)
    rates = [rate("370", "1", old), rate("370", "2", datetime(2025, 1, 1, tzinfo=timezone.utc)),
             rate("370", "3", NOW + timedelta(days=1)),
             rate("370", "0.5", old, "WD", time(8), time(18)),  # older than the all-day 2025 one: covered
             rate("3706", "4", old, destination="Lithuania mobile"), rate("44", "5", old, "FD")]
    book = book_of(rates)
    index, names = book.tariff_index("t"), book.destination_names("t")

    def found(**search):
        return [(r.prefix, str(r.rate.rate), r.status) for r in rows(index, RateSearch(**search), NOW, names)]

    assert found(prefix="370") == [("370", "3", "scheduled"), ("370", "2", "current"), ("370", "0.5", "superseded"),
                                   ("370", "1", "superseded"), ("3706", "4", "current")]
    assert found(number="37060012345", status="current") == [("370", "2", "current"), ("3706", "4", "current")]
    assert found(destination="MOBILE") == [("3706", "4", "current")]
    assert found(prefix="44") == [("44", "5", "current")]  # free days only, and nothing newer covers them
    # the lookup agrees: a call now to 370... takes the 2025 version, one tomorrow the scheduled one
    assert index.lookup("37060000000"[:3] + "1", NOW).rate.rate == Decimal("2")
    assert index.lookup("3701", NOW + timedelta(days=2)).rate.rate == Decimal("3")
