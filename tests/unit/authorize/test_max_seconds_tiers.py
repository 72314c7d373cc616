"""max_seconds with tiered rates: the largest second whose price through the tiers (the per-second
Decimal model of tests/unit/rating/tiers_model.py) fits the free balance, by a linear scan, for the
user and a reseller above him; the holds are those prices."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.authorize.decide import Live, decide
from pipeline.authorize.request import AuthorizeRequest
from pipeline.reference.book import ReferenceBook
from pipeline.reference.records import parse_reference_record
from tests.unit.rating.tiers_model import ROUNDINGS, model_price, tiered_rates

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
CAP = 600
money = st.decimals(min_value=Decimal("-1"), max_value=Decimal("20"), places=2)


def world(user_rate: dict, reseller_rate: dict, decimals: int, rounding: str) -> ReferenceBook:
    book = ReferenceBook()
    for record in (
        {"kind": "tariff", "id": "t-r1", "decimals": decimals, "rounding": rounding,
         "rates": [{"prefix": "3", **reseller_rate}]},
        {"kind": "tariff", "id": "t-u1", "owner": "r1", "decimals": decimals, "rounding": rounding,
         "rates": [{"prefix": "3", **user_rate}]},
        {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t-r1", "allow_loss_calls": True},
        {"kind": "account", "id": "u1", "type": "user", "parent": "r1", "tariff": "t-u1",
         "hold_cap_seconds": CAP, "allow_loss_calls": True},
    ):
        book.apply(parse_reference_record(record))
    return book


def scanned_max_seconds(parties: list[tuple[dict, Decimal]], decimals: int, rounding: str) -> int:
    def price(rate, seconds):
        return model_price(rate, seconds, decimals, rounding)[1]

    first = next((s for s in range(1, CAP + 1) if any(price(rate, s) > 0 for rate, _ in parties)), None)
    if first is None:
        return CAP
    fits = [s for s in range(first, CAP + 1) if all(price(rate, s) <= free for rate, free in parties)]
    return fits[-1] if fits and fits[0] == first else 0


@settings(max_examples=120, deadline=None)
@given(user=tiered_rates(), reseller=tiered_rates(), user_free=money, reseller_free=money,
       decimals=st.sampled_from([2, 6]), rounding=st.sampled_from(sorted(ROUNDINGS)))
def test_max_seconds_through_tiers_is_the_largest_affordable_second(user, reseller, user_free, reseller_free,
                                                                     decimals, rounding):
    book = world(user, reseller, decimals, rounding)
    answer = decide(AuthorizeRequest(server_id="s", call_id="c", account="u1", dst="3700"), book,
                    Live({"u1": user_free, "r1": reseller_free}, {}, {}, {}), NOW, 7200)
    expected = scanned_max_seconds([(user, user_free), (reseller, reseller_free)], decimals, rounding)
    assert answer.max_seconds == expected
    if expected:
        for party, rate in (("u1", user), ("r1", reseller)):
            assert answer.holds.get(party, Decimal(0)) == model_price(rate, expected, decimals, rounding)[1]


def test_a_cheaper_second_tier_lets_the_call_run_longer():
    """2/min for the first minute, 0.5/min after: 3.00 pays 60 s + 120 s, not the 90 s a flat 2/min would."""
    tiered = {"rate": "2", "increment": 60, "tiers": [{"from_seconds": 60, "rate": "0.5"}]}
    book = world(tiered, {"rate": "0"}, 6, "half_up")
    answer = decide(AuthorizeRequest(server_id="s", call_id="c", account="u1", dst="3700"), book,
                    Live({"u1": Decimal("3"), "r1": Decimal("100")}, {}, {}, {}), NOW, 7200)
    assert answer.max_seconds == 180
    assert answer.holds == {"u1": Decimal("3.000000")}
