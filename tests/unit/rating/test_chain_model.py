"""rate_call against a plain model of docs/domain.md: a startswith scan in local time and Decimal arithmetic.

The engine inlines the lookup and the integer pricing, caches zone offsets and starts the walk of a
tariff the user tariff covers at the user's longest prefix; none of that may change a result. Random
books (zones with DST, holidays, versions, day types, windows, every rounding and decimals, covered
and not covered tariffs, direct users, resellers, own providers) and calls are compared field by field.
"""
import random
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from zoneinfo import ZoneInfo

import pytest

from pipeline.rating.chain import CallToRate, NotRated, RatedCall, rate_call
from pipeline.rating.tariff_index import local_clock
from pipeline.reference.book import ReferenceBook
from pipeline.schemas.dialled import MIN_NUMBER_DIGITS
from pipeline.schemas.reference import AccountIn, HolidaysIn, ProviderIn, RateIn, TariffIn

UTC = timezone.utc
PREFIXES = ("", "3", "37", "370", "3706", "37061", "4", "49", "491", "4915", "44", "1", "12")
ZONES = ("UTC", "Europe/Vilnius", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu")
ROUNDINGS = {"half_up": ROUND_HALF_UP, "up": ROUND_UP, "down": ROUND_DOWN}
HOLIDAYS = (date(2026, 3, 4), date(2026, 10, 25), date(2026, 12, 25))


def random_rates(rng: random.Random, prefixes) -> tuple[RateIn, ...]:
    rates, seen = [], set()
    for prefix in prefixes:
        for _ in range(rng.choice((1, 1, 2, 3))):
            effective = rng.choice((datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
                                    datetime(2026, 7, 1, 12, 30, 15, tzinfo=UTC)))
            day_type = rng.choice(("all", "all", "WD", "FD"))
            start, end = time(0, 0), time(23, 59, 59)
            if rng.random() < 0.3:
                start, end = sorted((time(rng.randrange(24), rng.randrange(60)), time(rng.randrange(24), 59, 59)))
            key = (prefix, effective, day_type, start, end)
            if key in seen:
                continue
            seen.add(key)
            rates.append(RateIn(prefix=prefix, rate=str(Decimal(rng.randint(0, 30000)).scaleb(-rng.randint(0, 5))),
                                connection_fee=rng.choice(("0", "0", "0.05", "0.0123457")),
                                increment=rng.choice((1, 1, 6, 30, 60)), min_time=rng.choice((0, 0, 30, 60)),
                                grace_time=rng.choice((0, 0, 3)), effective_from=effective, day_type=day_type,
                                start=start, end=end))
    return tuple(rates)


def random_tariff(rng: random.Random, tariff_id: str, prefixes, owner: str = "admin") -> TariffIn:
    return TariffIn(id=tariff_id, owner=owner, timezone=rng.choice(ZONES), decimals=rng.randint(0, 6),
                    rounding=rng.choice(tuple(ROUNDINGS)), rates=random_rates(rng, prefixes))


def random_book(rng: random.Random) -> tuple[ReferenceBook, dict[str, TariffIn]]:
    user_prefixes = rng.sample(PREFIXES, rng.randint(3, len(PREFIXES)))
    covered = rng.random() < 0.6  # reseller and provider tariffs on (a part of) the user's prefixes

    def other_prefixes():
        return rng.sample(user_prefixes, rng.randint(1, len(user_prefixes))) if covered else \
            rng.sample(PREFIXES, rng.randint(2, len(PREFIXES)))
    book, tariffs = ReferenceBook(), {}
    for record in (AccountIn(id="admin", type="admin", allow_loss_calls=rng.random() < 0.3),
                   HolidaysIn(dates=HOLIDAYS) if rng.random() < 0.5 else None,
                   random_tariff(rng, "t-user", user_prefixes, owner="r1"),
                   random_tariff(rng, "t-direct", user_prefixes),
                   random_tariff(rng, "t-reseller", other_prefixes()),
                   random_tariff(rng, "t-provider", other_prefixes()),
                   random_tariff(rng, "t-own", other_prefixes(), owner="r1"),
                   AccountIn(id="r1", type="reseller", tariff="t-reseller", pro=True,
                             allow_loss_calls=rng.random() < 0.3),
                   AccountIn(id="u1", type="user", parent="r1", tariff="t-user"),
                   AccountIn(id="d1", type="user", tariff="t-direct"),
                   ProviderIn(id="p1", tariff="t-provider"), ProviderIn(id="p-own", owner="r1", tariff="t-own")):
        if record is not None:
            book.apply(record)
        if isinstance(record, TariffIn):
            tariffs[record.id] = record
    return book, tariffs


def random_call(rng: random.Random) -> CallToRate:
    dst = rng.choice(PREFIXES) + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 9)))
    start = rng.choice((datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 0, 0, tzinfo=UTC),
                        datetime(2026, 4, 5, 14, 0, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)))
    start += timedelta(seconds=rng.randrange(-3 * 86400, 3 * 86400), microseconds=rng.randrange(1_000_000))
    answered = rng.random() < 0.8
    billsec = rng.choice((0, 1, 2, 3, 5, 29, 30, 31, 59, 60, 61, 125, 3601)) if answered else rng.choice((0, 12))
    return CallToRate("ast1", "c", rng.choice(("u1", "u1", "d1")), dst, start, billsec, answered,
                      rng.choice(("p1", "p1", "p-own", None)))


# ---- the model: docs/domain.md "Pricing one call at one level" and "The billing chain", read literally ----

def model_lookup(tariff: TariffIn, dst: str, start: datetime, holidays) -> RateIn | None:
    local = start.astimezone(ZoneInfo(tariff.timezone)).replace(microsecond=0)
    free_day = local.weekday() >= 5 or local.date() in holidays
    # fewer than 3 digits is a menu key, not a number (docs/devices.md "Destinations that are not numbers"):
    # only an exact rate of it prices it, and these tariffs have none
    candidates = [rate for rate in tariff.rates
                  if (dst.startswith(rate.prefix) if len(dst) >= MIN_NUMBER_DIGITS else rate.prefix == dst + "$")
                  and rate.effective_from <= start
                  and (rate.day_type == "all" or (rate.day_type == "FD") == free_day)
                  and rate.start <= local.time() <= rate.end]
    if not candidates:
        return None
    return max(candidates, key=lambda rate: (len(rate.prefix), rate.effective_from, rate.day_type != "all",
                                             -(datetime.combine(date.min, rate.end)
                                               - datetime.combine(date.min, rate.start)), -rate.start.hour * 3600
                                             - rate.start.minute * 60 - rate.start.second))


def model_leg(level: str, tariff: TariffIn, call: CallToRate, holidays):
    quantum = Decimal(1).scaleb(-tariff.decimals)
    billsec = call.billsec if call.answered else 0
    rate = model_lookup(tariff, call.dst, call.start_time, holidays)
    if rate is None:
        return None if billsec > 0 else (level, tariff.id, "", 0, Decimal(0), Decimal(0) * quantum)
    if billsec <= 0 or billsec <= rate.grace_time:
        return level, tariff.id, rate.prefix, 0, rate.rate, Decimal(0) * quantum
    billed = max(-(-billsec // rate.increment) * rate.increment, rate.min_time)
    price = (rate.rate * billed / Decimal(60) + rate.connection_fee).quantize(quantum, ROUNDINGS[tariff.rounding])
    return level, tariff.id, rate.prefix, billed, rate.rate, price


def model_rate_call(tariffs: dict, call: CallToRate, admin_allows: bool, reseller_allows: bool, holidays):
    """(legs, reseller_id, own_provider, reseller_profit, admin_profit, loss) or the failing level."""
    via_reseller = call.account == "u1"
    own = via_reseller and call.provider == "p-own"
    levels = [("user", tariffs["t-user" if via_reseller else "t-direct"])]
    if via_reseller and not own:
        levels.append(("reseller", tariffs["t-reseller"]))
    if call.provider is not None:
        levels.append(("provider", tariffs["t-own" if call.provider == "p-own" else "t-provider"]))
    legs = {}
    for level, tariff in levels:
        leg = model_leg(level, tariff, call, holidays)
        if leg is None:
            return level
        legs[level] = leg
    user = legs["user"][5]
    provider = legs["provider"][5] if "provider" in legs else Decimal(0)
    if own:
        return legs, "r1", True, user - provider, Decimal(0), provider > user and not reseller_allows
    if via_reseller:
        reseller = legs["reseller"][5]
        return legs, "r1", False, user - reseller, reseller - provider, \
            (reseller > user and not reseller_allows) or (provider > reseller and not admin_allows)
    return legs, "", False, Decimal(0), user - provider, provider > user and not admin_allows


@pytest.mark.parametrize("seed", range(12))
def test_rate_call_matches_the_plain_model(seed):
    rng = random.Random(seed)
    book, tariffs = random_book(rng)
    admin_allows, reseller_allows = book.account("admin").allow_loss_calls, book.account("r1").allow_loss_calls
    for _ in range(400):
        call = random_call(rng)
        got = rate_call(call, book)
        want = model_rate_call(tariffs, call, admin_allows, reseller_allows, book.holidays)
        if isinstance(want, str):
            reason = "no_rate" if len(call.dst) >= MIN_NUMBER_DIGITS else "not_a_number"
            assert isinstance(got, NotRated) and (got.reason, got.level) == (reason, want), call
            continue
        assert isinstance(got, RatedCall), (call, got)
        legs, reseller_id, own, reseller_profit, admin_profit, loss = want
        for level in ("user", "reseller", "provider"):
            leg = getattr(got, level)
            assert (None if leg is None else tuple(map(str, (leg.level, leg.tariff, leg.prefix, leg.billed_seconds,
                                                                leg.rate, leg.price)))) == \
                (tuple(map(str, legs[level])) if level in legs else None), (call, level)
        assert (got.reseller_id, got.own_provider, str(got.reseller_profit), str(got.admin_profit), got.loss) == \
            (reseller_id, own, str(reseller_profit), str(admin_profit), loss), call


@pytest.mark.parametrize("zone", ZONES[1:])
def test_cached_zone_offsets_equal_the_zone_rules(zone):
    info = ZoneInfo(zone)
    first = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
    rng = random.Random(zone)
    moments = [first + step * 61 for step in range(0, 400 * 86400 // 61, 7)] + \
        [first + rng.randrange(400 * 86400) for _ in range(2000)]
    for epoch in moments + moments:  # the second pass reads the cache
        local = datetime.fromtimestamp(epoch, info)
        free_day, second = local_clock(info, epoch, frozenset())
        assert (free_day, second) == (local.weekday() >= 5, local.hour * 3600 + local.minute * 60 + local.second)


def test_a_tariff_not_covered_by_the_user_tariff_is_walked_in_full():
    book = ReferenceBook()
    for record in (TariffIn(id="t-u", rates=(RateIn(prefix="37", rate="2"),)),
                   TariffIn(id="t-p", rates=(RateIn(prefix="37", rate="1"), RateIn(prefix="3706", rate="0.5"))),
                   AccountIn(id="d1", type="user", tariff="t-u"), ProviderIn(id="p1", tariff="t-p")):
        book.apply(record)
    rated = rate_call(CallToRate("a", "c", "d1", "37061234", datetime(2026, 1, 1, tzinfo=UTC), 60, True, "p1"), book)
    assert (rated.user.prefix, rated.provider.prefix, rated.provider.price) == ("37", "3706", Decimal("0.5"))
    assert book.tariff_index("t-u").covers(book.tariff_index("t-p")) is False
    assert book.tariff_index("t-p").covers(book.tariff_index("t-u")) is True
