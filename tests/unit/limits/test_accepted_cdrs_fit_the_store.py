"""Every CDR that process_cdr accepts gives a cdr.rated record the ClickHouse row mapper accepts:
nothing is charged that the sink would refuse. A price the store cannot hold (Decimal(18,
6), UInt32 billed seconds) is rejected at rating time as `out_of_range`."""
from datetime import datetime, timezone
from decimal import Decimal

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.cdr.process import REJECT_REASONS, process_cdr
from pipeline.reference.book import ReferenceBook
from pipeline.schemas import limits
from pipeline.schemas.reference import AccountIn, ProviderIn, RateIn, TariffIn
from pipeline.sinks.batch import rows_from_payloads
from tests.unit.cdr.sample_book import RATED_AT, SOURCE, sample_book, seed_cdr

SAMPLE_BOOK = sample_book()
LAST_SECOND = int(limits.DATETIME_END.timestamp()) - 1


def fits_the_store(out) -> bool:
    rows, refused = rows_from_payloads([(0, out.value)])
    assert refused == [] and len(rows) == 1, refused
    return True


def check(out) -> None:
    if out.rated:
        assert fits_the_store(out)
    else:
        assert out.reason in REJECT_REASONS and out.reason != "internal_error", out.value


seconds = st.one_of(st.integers(0, 600), st.integers(0, limits.UINT32_MAX))
starts = st.one_of(st.integers(0, LAST_SECOND),
                   st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2105, 12, 31, 23, 59, 59))
                   .map(lambda moment: moment.replace(tzinfo=timezone.utc).isoformat()))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(account=st.sampled_from(["u1", "u2", "u3", "d1", "r1"]), provider=st.sampled_from([None, "p1"]),
       billsec=seconds, duration=st.none() | seconds, start=starts, dst=st.from_regex(r"\A[0-9]{1,20}\Z"),
       wire_format=st.sampled_from(["json", "avro"]))
def test_every_cdr_accepted_with_the_sample_book_gives_a_storable_row(account, provider, billsec, duration, start,
                                                                       dst, wire_format):
    cdr = seed_cdr(account=account, provider=provider, billsec=billsec, start_time=start, dst=dst, duration=duration)
    check(process_cdr(b"k", orjson.dumps(cdr), SOURCE, SAMPLE_BOOK, RATED_AT, wire_format))


TOP_RATE = Decimal("999999999.999999999")
rate_values = st.one_of(st.sampled_from(["0", "0.3", "2", str(TOP_RATE)]),
                        st.decimals(min_value=0, max_value=TOP_RATE, places=9).map(lambda d: format(d, "f")))
rates = st.builds(
    lambda rate, fee, increment, min_time, grace: RateIn(
        prefix="", rate=rate, connection_fee=fee, increment=increment, min_time=min_time, grace_time=grace),
    rate_values, rate_values, st.one_of(st.integers(1, 60), st.integers(1, limits.UINT32_MAX)),
    seconds, st.integers(0, 10))
tariff_shapes = st.tuples(rates, st.integers(0, 6), st.sampled_from(["half_up", "up", "down"]))


def extreme_book(user: tuple, reseller: tuple, provider: tuple) -> ReferenceBook:
    book = ReferenceBook()
    for tariff_id, owner, (rate, decimals, rounding) in (("t-buy", "admin", reseller), ("t-retail", "r1", user),
                                                         ("t-p", "admin", provider)):
        if tariff_id == "t-retail":
            book.apply(AccountIn(id="r1", type="reseller", tariff="t-buy"))
        book.apply(TariffIn(id=tariff_id, owner=owner, decimals=decimals, rounding=rounding, rates=(rate,)))
    book.apply(AccountIn(id="u1", type="user", parent="r1", tariff="t-retail"))
    book.apply(AccountIn(id="d1", type="user", tariff="t-buy"))
    book.apply(ProviderIn(id="p1", tariff="t-p"))
    return book


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(user=tariff_shapes, reseller=tariff_shapes, provider=tariff_shapes, account=st.sampled_from(["u1", "d1"]),
       via=st.sampled_from([None, "p1"]), billsec=seconds, start=starts)
def test_every_cdr_accepted_with_any_storable_tariff_gives_a_storable_row(user, reseller, provider, account, via,
                                                                          billsec, start):
    book = extreme_book(user, reseller, provider)
    cdr = seed_cdr(account=account, provider=via, billsec=billsec, start_time=start)
    check(process_cdr(b"k", orjson.dumps(cdr), SOURCE, book, RATED_AT))


def test_a_price_past_decimal_18_6_is_rejected_out_of_range_naming_level_and_tariff():
    top = (RateIn(prefix="", rate="999999999.999999999"), 6, "half_up")
    book = extreme_book(top, top, top)
    out = process_cdr(b"k", orjson.dumps(seed_cdr(account="u1", billsec=limits.UINT32_MAX)), SOURCE, book, RATED_AT)
    body = orjson.loads(out.value)
    assert (out.rated, body["reason"]) == (False, "out_of_range")
    assert body["detail"].startswith('user price ') and 'tariff "t-retail"' in body["detail"]
    assert "Decimal(18, 6)" in body["detail"]
    # the same tariffs price a short call
    assert process_cdr(b"k", orjson.dumps(seed_cdr(account="u1", billsec=60)), SOURCE, book, RATED_AT).rated


def test_billed_seconds_past_uint32_are_rejected_out_of_range():
    free = (RateIn(prefix="", rate="0", increment=limits.UINT32_MAX), 6, "half_up")
    book = extreme_book(free, free, free)
    out = process_cdr(b"k", orjson.dumps(seed_cdr(account="u1", billsec=limits.UINT32_MAX - 1)), SOURCE, book,
                      RATED_AT)
    assert out.rated  # one increment of 2^32 - 1 seconds still fits
    two_increments = (RateIn(prefix="", rate="0", increment=2**31 + 1), 6, "half_up")
    book = extreme_book(two_increments, free, free)
    out = process_cdr(b"k", orjson.dumps(seed_cdr(account="u1", billsec=2**31 + 2)), SOURCE, book, RATED_AT)
    body = orjson.loads(out.value)
    assert body["reason"] == "out_of_range"
    assert "billed seconds 4294967298" in body["detail"] and "UInt32" in body["detail"]
