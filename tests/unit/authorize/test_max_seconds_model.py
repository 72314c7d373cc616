"""max_seconds against an independent model: plain Decimal arithmetic of the pricing rules and a
linear scan for the largest affordable second (never one second more), for random rates, free
balances and reseller cascades."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.authorize.decide import Live, decide
from pipeline.authorize.request import AuthorizeRequest
from pipeline.reference.book import ReferenceBook
from pipeline.reference.records import parse_reference_record

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
CAP = 900
ROUNDINGS = {"half_up": ROUND_HALF_UP, "up": ROUND_UP, "down": ROUND_DOWN}


def model_price(rate: dict, decimals: int, rounding: str, seconds: int) -> Decimal:
    """DOMAIN "Pricing one call at one level", written out again without the engine's code."""
    if seconds <= 0 or seconds <= rate["grace_time"]:
        return Decimal(0)
    billed = ((seconds + rate["increment"] - 1) // rate["increment"]) * rate["increment"]
    billed = max(billed, rate["min_time"])
    raw = Decimal(rate["rate"]) * billed / 60 + Decimal(rate["connection_fee"])
    return raw.quantize(Decimal(1).scaleb(-decimals), rounding=ROUNDINGS[rounding])


def model_max_seconds(parties: list[tuple[dict, int, str, Decimal]], cap: int) -> int:
    """The largest s <= cap every party can pay; 0 when the first billable second is not covered."""
    def fits(s):
        return all(model_price(rate, dec, rnd, s) <= free for rate, dec, rnd, free in parties)

    def costs(s):
        return any(model_price(rate, dec, rnd, s) > 0 for rate, dec, rnd, _ in parties)

    first = next((s for s in range(1, cap + 1) if costs(s)), None)
    if first is None:
        return cap
    if not fits(first):
        return 0
    return max(s for s in range(first, cap + 1) if fits(s))


rates = st.fixed_dictionaries({
    "rate": st.decimals(min_value=Decimal("0"), max_value=Decimal("3"), places=3).map(str),
    "connection_fee": st.sampled_from(["0", "0.05", "0.1"]),
    "increment": st.sampled_from([1, 6, 30, 60]),
    "min_time": st.sampled_from([0, 30, 60]),
    "grace_time": st.sampled_from([0, 5]),
})
money = st.decimals(min_value=Decimal("-1"), max_value=Decimal("30"), places=2)


def world(user_rate, reseller_rate, decimals, rounding, reseller_billing):
    book = ReferenceBook()
    for record in (
        {"kind": "tariff", "id": "t-r1", "owner": "admin", "decimals": decimals, "rounding": rounding,
         "rates": [{"prefix": "3", **reseller_rate}]},
        {"kind": "tariff", "id": "t-u1", "owner": "r1", "decimals": decimals, "rounding": rounding,
         "rates": [{"prefix": "3", **user_rate}]},
        {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t-r1", "billing": reseller_billing,
         "allow_loss_calls": True},
        {"kind": "account", "id": "u1", "type": "user", "parent": "r1", "tariff": "t-u1", "billing": "prepaid",
         "hold_cap_seconds": CAP, "allow_loss_calls": True},
    ):
        book.apply(parse_reference_record(record))
    return book


@settings(max_examples=200, deadline=None)
@given(user_rate=rates, reseller_rate=rates, user_free=money, reseller_free=money,
       decimals=st.sampled_from([2, 4, 6]), rounding=st.sampled_from(sorted(ROUNDINGS)),
       reseller_billing=st.sampled_from(["prepaid", "postpaid"]))
def test_max_seconds_is_the_largest_affordable_second(user_rate, reseller_rate, user_free, reseller_free,
                                                      decimals, rounding, reseller_billing):
    book = world(user_rate, reseller_rate, decimals, rounding, reseller_billing)
    live = Live({"u1": user_free, "r1": reseller_free}, {}, {}, {})
    answer = decide(AuthorizeRequest(server_id="s", call_id="c", account="u1", dst="3700"), book, live, NOW, 7200)
    parties = [(user_rate, decimals, rounding, user_free)]
    if reseller_billing == "prepaid":  # a postpaid reseller without a credit limit is never limited
        parties.append((reseller_rate, decimals, rounding, reseller_free))
    expected = model_max_seconds(parties, CAP)
    assert answer.max_seconds == expected
    assert answer.allowed == (expected > 0)
    if answer.allowed:  # each limited party is held exactly the price of max_seconds
        for (rate, dec, rnd, _), party in zip(parties, ("u1", "r1")[:len(parties)], strict=True):
            price = model_price(rate, dec, rnd, expected)
            assert answer.holds.get(party, Decimal(0)) == price
    else:
        assert answer.reason in {"low_balance", "no_free_balance", "low_balance_reseller"}
        assert answer.holds == {}


def test_a_reseller_with_less_money_lowers_the_users_answer():
    book = world({"rate": "2"}, {"rate": "1.2"}, 6, "half_up", "prepaid")
    live = Live({"u1": Decimal("100"), "r1": Decimal("0.60")}, {}, {}, {})
    answer = decide(AuthorizeRequest(server_id="s", call_id="c", account="u1", dst="3700"), book, live, NOW, 7200)
    assert answer.max_seconds == 30  # 0.60 at 1.2/min, though the user could pay the cap
    assert answer.holds == {"u1": Decimal("1.000000"), "r1": Decimal("0.600000")}
    live = Live({"u1": Decimal("100"), "r1": Decimal("0")}, {}, {}, {})
    refused = decide(AuthorizeRequest(server_id="s", call_id="c", account="u1", dst="3700"), book, live, NOW, 7200)
    assert (refused.reason, refused.sip_code, refused.mor_code) == ("low_balance_reseller", 402, 215)
