"""Rate lookup (docs/domain.md "Pricing one call at one level", finding the rate, 1-3): candidates,
tie-breaks, time zones, updates."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.rating.tariff_index import TariffIndex
from pipeline.reference.csv_rates import load_rates_csv
from pipeline.schemas.reference import RateIn, TariffIn

UTC = timezone.utc
FIXTURES = Path(__file__).parents[2] / "fixtures" / "tariffs"


def index_of(*rates: RateIn, zone: str = "UTC") -> TariffIndex:
    return TariffIndex.build(TariffIn(id="t", timezone=zone, rates=rates))


def rate_at(index: TariffIndex, dst: str, moment: datetime, holidays=frozenset()) -> Decimal | None:
    found = index.lookup(dst, moment, holidays)
    return None if found is None else found.rate.rate


WEDNESDAY_NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def test_longest_prefix_wins():
    index = index_of(RateIn(prefix="3", rate="1"), RateIn(prefix="370", rate="2"), RateIn(prefix="3706", rate="3"))
    assert index.lookup("37061234567", WEDNESDAY_NOON).prefix == "3706"
    assert index.lookup("37051234567", WEDNESDAY_NOON).prefix == "370"
    assert index.lookup("4912345", WEDNESDAY_NOON) is None


def test_empty_prefix_is_a_catch_all_below_every_real_prefix():
    index = index_of(RateIn(prefix="", rate="9"), RateIn(prefix="370", rate="2"))
    assert rate_at(index, "37061234567", WEDNESDAY_NOON) == 2
    assert rate_at(index, "4912345", WEDNESDAY_NOON) == 9


def test_newest_effective_version_wins_and_future_versions_wait():
    index = index_of(RateIn(prefix="370", rate="1", effective_from="2026-01-01T00:00:00Z"),
                     RateIn(prefix="370", rate="2", effective_from="2026-06-01T00:00:00Z"))
    assert rate_at(index, "370", datetime(2026, 5, 31, 23, 59, 59, 999999, tzinfo=UTC)) == 1
    assert rate_at(index, "370", datetime(2026, 6, 1, tzinfo=UTC)) == 2  # the exact second counts
    assert rate_at(index, "370", datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)) is None


def test_longer_prefix_beats_newer_version_of_a_shorter_one():
    index = index_of(RateIn(prefix="370", rate="1", effective_from="2026-06-01T00:00:00Z"),
                     RateIn(prefix="3706", rate="2", effective_from="2026-01-01T00:00:00Z"))
    assert rate_at(index, "37061", datetime(2026, 7, 1, tzinfo=UTC)) == 2


def test_not_yet_effective_longer_prefix_falls_back_to_shorter():
    index = index_of(RateIn(prefix="370", rate="1"), RateIn(prefix="3706", rate="2", effective_from="2027-01-01T00:00:00Z"))
    assert rate_at(index, "37061", WEDNESDAY_NOON) == 1


def test_specific_day_type_beats_all_on_a_tie():
    index = index_of(RateIn(prefix="370", rate="1", day_type="all"), RateIn(prefix="370", rate="2", day_type="WD"),
                     RateIn(prefix="370", rate="3", day_type="FD"))
    assert rate_at(index, "370", WEDNESDAY_NOON) == 2
    assert rate_at(index, "370", datetime(2026, 3, 7, 12, tzinfo=UTC)) == 3  # Saturday


def test_window_end_23_59_59_is_inclusive_to_the_last_microsecond():
    index = index_of(RateIn(prefix="370", rate="1", start="20:00:00", end="23:59:59"))
    assert rate_at(index, "370", datetime(2026, 3, 4, 23, 59, 59, 999999, tzinfo=UTC)) == 1
    assert rate_at(index, "370", datetime(2026, 3, 4, 19, 59, 59, tzinfo=UTC)) is None
    assert rate_at(index, "370", datetime(2026, 3, 5, 0, 0, 0, tzinfo=UTC)) is None


def test_holiday_is_a_free_day():
    index = index_of(RateIn(prefix="370", rate="1", day_type="WD"), RateIn(prefix="370", rate="2", day_type="FD"))
    assert rate_at(index, "370", WEDNESDAY_NOON) == 1
    assert rate_at(index, "370", WEDNESDAY_NOON, frozenset({date(2026, 3, 4)})) == 2


def test_saturday_in_the_tariff_zone_while_friday_in_utc():
    # 2026-03-06 is a Friday; 12:00 UTC is Saturday 01:00 in Auckland (UTC+13 in March).
    friday_utc = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    rates = (RateIn(prefix="64", rate="1", day_type="WD"), RateIn(prefix="64", rate="2", day_type="FD"))
    assert rate_at(index_of(*rates, zone="Pacific/Auckland"), "6491234", friday_utc) == 2
    assert rate_at(index_of(*rates), "6491234", friday_utc) == 1
    tokyo = index_of(*rates, zone="Asia/Tokyo")  # UTC+9: 15:00 UTC Friday is Saturday 00:00
    assert rate_at(tokyo, "6491234", datetime(2026, 3, 6, 15, 0, tzinfo=UTC)) == 2
    assert rate_at(tokyo, "6491234", datetime(2026, 3, 6, 14, 59, 59, tzinfo=UTC)) == 1


@pytest.mark.parametrize(
    "moment, expected",
    [
        (datetime(2026, 3, 4, 6, 0, 0, tzinfo=UTC), "0.10"),  # Wed 08:00 local (UTC+2): peak
        (datetime(2026, 3, 4, 5, 59, 59, tzinfo=UTC), "0.05"),  # Wed 07:59:59: off-peak
        (datetime(2026, 3, 7, 10, 0, tzinfo=UTC), "0.02"),  # Saturday: FD beats "all"
        (datetime(2026, 7, 1, 6, 0, tzinfo=UTC), "0.08"),  # newer version
        (datetime(2026, 3, 30, 5, 30, tzinfo=UTC), "0.10"),  # after DST (UTC+3): 08:30 local, peak
        (datetime(2026, 3, 27, 5, 30, tzinfo=UTC), "0.05"),  # before DST (UTC+2): 07:30 local
        (datetime(2026, 10, 26, 5, 30, tzinfo=UTC), "0.05"),  # after DST ends (UTC+2): 07:30 local
        (datetime(2026, 10, 23, 5, 30, tzinfo=UTC), "0.08"),  # before it ends (UTC+3): 08:30 local, newer peak
    ],
)
def test_peak_offpeak_fixture_in_vilnius_across_dst(moment, expected):
    tariff = TariffIn(id="t-vilnius", timezone="Europe/Vilnius")
    index = TariffIndex.build(tariff, load_rates_csv(FIXTURES / "peak_offpeak" / "rates.csv"))
    found = index.lookup("37052123456", moment)
    assert (found.prefix, found.rate.rate) == ("370", Decimal(expected))
    assert index.lookup("37061234567", moment).rate.rate == Decimal("0.20")


def test_with_rates_replaces_one_version_and_leaves_the_old_index_alone():
    old = index_of(RateIn(prefix="370", rate="1"), RateIn(prefix="371", rate="5"))
    new = old.with_rates([RateIn(prefix="370", rate="2"), RateIn(prefix="37261", rate="3")])
    assert rate_at(old, "370", WEDNESDAY_NOON) == 1
    assert rate_at(new, "370", WEDNESDAY_NOON) == 2
    assert rate_at(new, "3726123", WEDNESDAY_NOON) == 3  # a new, longer prefix length is probed
    assert new.versions("371") is old.versions("371")  # untouched entries are shared, not recompiled
    assert len(new.versions("370")) == 1


def test_with_rates_adds_a_version_beside_a_different_key():
    index = index_of(RateIn(prefix="370", rate="1")).with_rates(
        [RateIn(prefix="370", rate="2", effective_from="2026-06-01T00:00:00Z")])
    assert rate_at(index, "370", datetime(2026, 5, 1, tzinfo=UTC)) == 1
    assert rate_at(index, "370", datetime(2026, 6, 2, tzinfo=UTC)) == 2


def test_equal_rates_compile_to_one_shared_object():
    index = index_of(RateIn(prefix="370", rate="1.5"), RateIn(prefix="371", rate="1.5"), RateIn(prefix="372", rate="2"))
    assert index.versions("370")[0] is index.versions("371")[0]
    assert index.versions("372")[0] is not index.versions("370")[0]


def test_a_day_later_each_day_type_flips():
    index = index_of(RateIn(prefix="1", rate="1", day_type="WD"), RateIn(prefix="1", rate="2", day_type="FD"))
    friday = datetime(2026, 3, 6, 12, tzinfo=UTC)
    assert [rate_at(index, "1", friday + timedelta(days=n)) for n in range(4)] == [1, 2, 2, 1]
