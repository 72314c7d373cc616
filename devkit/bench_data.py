"""Synthetic but realistically shaped tariffs and calls for the rating benchmark.

Shape: ~230 country codes, each with operator ranges 1-5 digits longer (the bulk of a wholesale
tariff), a few hundred price points shared by many prefixes, 10% of prefixes with an older and a
newer version, 2% with separate weekday and free-day rates. Three tariffs on the same prefixes:
provider (cost), reseller (cost x 1.4) and user (cost x 2, per-second, 60/60 and 30/6 billing).
Destinations are 10-13 digit numbers under a random prefix; 30% of calls are unanswered.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from pipeline.rating.chain import CallToRate
from pipeline.schemas.reference import RateIn, RateTier

COUNTRY_CODES = (
    "1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 "
    "65 66 81 82 84 86 90 91 92 93 94 95 98 211 212 213 216 218 220 221 222 223 224 225 226 227 228 229 "
    "230 231 232 233 234 235 236 237 238 239 240 241 242 243 244 245 246 247 248 249 250 251 252 253 254 "
    "255 256 257 258 260 261 262 263 264 265 266 267 268 269 290 291 297 298 299 350 351 352 353 354 355 "
    "356 357 358 359 370 371 372 373 374 375 376 377 378 380 381 382 383 385 386 387 389 420 421 423 500 "
    "501 502 503 504 505 506 507 508 509 590 591 592 593 594 595 596 597 598 599 670 672 673 674 675 676 "
    "677 678 679 680 681 682 683 685 686 687 688 689 690 691 692 850 852 853 855 856 880 886 960 961 962 "
    "963 964 965 966 967 968 970 971 972 973 974 975 976 977 992 993 994 995 996 998"
).split()
OLD_VERSION = datetime(2025, 1, 1, tzinfo=timezone.utc)
NEW_VERSION = datetime(2026, 6, 1, tzinfo=timezone.utc)
USER_BILLING = ((1, 0), (1, 0), (60, 60), (6, 30))  # (increment, min_time): per-second twice as often


def make_prefixes(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    prefixes = dict.fromkeys(COUNTRY_CODES)
    while len(prefixes) < count:
        country = rng.choice(COUNTRY_CODES)
        prefixes[country + str(rng.randrange(10 ** rng.randint(1, 5)))] = None
    return list(prefixes)[:count]


def make_tariff_rates(prefixes: list[str], seed: int = 11) -> dict[str, list[RateIn]]:
    """{"provider": [...], "reseller": [...], "user": [...]}, same prefixes, consistent prices."""
    rng = random.Random(seed)
    price_points = [Decimal(rng.randint(5, 9000)).scaleb(-4) for _ in range(400)]  # 0.0005 .. 0.9
    tariffs: dict[str, list[RateIn]] = {"provider": [], "reseller": [], "user": []}
    for prefix in prefixes:
        cost = rng.choice(price_points)
        increment, min_time = rng.choice(USER_BILLING)
        shape = rng.random()
        if shape < 0.10:
            versions = [(OLD_VERSION, "all", cost * 2), (NEW_VERSION, "all", cost)]
        elif shape < 0.12:
            versions = [(OLD_VERSION, "WD", cost), (OLD_VERSION, "FD", cost / 2)]
        else:
            versions = [(OLD_VERSION, "all", cost)]
        for effective_from, day_type, base in versions:
            common = {"prefix": prefix, "effective_from": effective_from, "day_type": day_type}
            tariffs["provider"].append(RateIn(rate=base, **common))
            tariffs["reseller"].append(RateIn(rate=(base * Decimal("1.4")).quantize(Decimal("0.0001")), **common))
            tariffs["user"].append(RateIn(rate=base * 2, increment=increment, min_time=min_time, **common))
    return tariffs


def with_tiers(rates: list[RateIn]) -> list[RateIn]:
    """The same rates with two tiers each, as carriers' volume decks have them: from the second
    minute 80% of the rate per second, from the sixth minute 60%. Every increment of the bench
    (1, 6, 60 s) divides 60, so the layout rule holds."""
    def cheaper(rate: Decimal, share: str) -> Decimal:
        return (rate * Decimal(share)).quantize(Decimal("0.000001"))

    return [rate.model_copy(update={"tiers": (RateTier(from_seconds=60, rate=cheaper(rate.rate, "0.8")),
                                              RateTier(from_seconds=300, rate=cheaper(rate.rate, "0.6")))})
            for rate in rates]


def write_rates_csv(path, rates: list[RateIn]) -> None:
    columns = ("prefix", "rate", "connection_fee", "increment", "min_time", "effective_from", "day_type")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(",".join(columns) + "\n")
        for rate in rates:
            handle.write(f"{rate.prefix},{rate.rate},{rate.connection_fee},{rate.increment},{rate.min_time},"
                         f"{rate.effective_from.isoformat()},{rate.day_type}\n")


def make_calls(prefixes: list[str], count: int, account: str, provider: str, seed: int = 13) -> list[CallToRate]:
    rng = random.Random(seed)
    year_start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    calls = []
    for number in range(count):
        prefix = rng.choice(prefixes)
        dst = prefix + "".join(rng.choice("0123456789") for _ in range(max(0, rng.randint(10, 13) - len(prefix))))
        answered = rng.random() >= 0.30
        billsec = int(rng.expovariate(1 / 120)) + 1 if answered else 0
        start = year_start + timedelta(seconds=rng.randrange(365 * 86400))
        calls.append(CallToRate("ast1", f"call-{number}", account, dst, start, billsec, answered, provider))
    return calls
