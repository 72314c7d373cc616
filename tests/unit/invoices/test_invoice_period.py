"""The period is a calendar month in the issuer's zone; queries get its bounds in UTC."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from pipeline.invoices.period import Period, PeriodNotClosed

ROME = ZoneInfo("Europe/Rome")
UTC = timezone.utc


def test_a_month_in_rome_starts_and_ends_at_local_midnight_in_utc():
    # October 2026: CEST (UTC+2) at the start, CET (UTC+1) at the end (DST ends on 25 October)
    start, end = Period(2026, 10).bounds(ROME)
    assert start == datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
    assert end == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)


def test_a_call_late_on_the_last_utc_day_belongs_to_the_next_month_in_rome():
    october_end = Period(2026, 10).bounds(ROME)[1]
    call = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 November in Rome
    assert call >= october_end
    november_start, november_end = Period(2026, 11).bounds(ROME)
    assert november_start <= call < november_end


def test_december_is_followed_by_january_of_the_next_year():
    assert Period(2026, 12).next() == Period(2027, 1)
    assert Period(2026, 12).bounds(UTC_ZONE := ZoneInfo("UTC"))[1] == datetime(2027, 1, 1, tzinfo=UTC)
    assert UTC_ZONE.key == "UTC"


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-10", "2026/10", "", "1999-12"])
def test_a_badly_written_period_is_refused_with_the_rule(text):
    with pytest.raises(ValueError, match="period"):
        Period.parse(text)


def test_parse_and_str_round_trip():
    assert str(Period.parse(" 2026-03 ")) == "2026-03"


def test_a_month_not_over_in_the_issuers_zone_is_refused_unless_draft():
    # 31 October 23:30 UTC is already November in Rome, but still October in New York
    now = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    Period(2026, 10).check_closed(ROME, now, draft=False)  # over in Rome
    with pytest.raises(PeriodNotClosed, match="not closed yet"):
        Period(2026, 10).check_closed(ZoneInfo("America/New_York"), now, draft=False)
    Period(2026, 10).check_closed(ZoneInfo("America/New_York"), now, draft=True)


def test_a_future_month_is_refused_unless_draft():
    now = datetime(2026, 11, 27, tzinfo=UTC)
    with pytest.raises(PeriodNotClosed, match="in the future"):
        Period(2027, 1).check_closed(ROME, now, draft=False)
    Period(2027, 1).check_closed(ROME, now, draft=True)
