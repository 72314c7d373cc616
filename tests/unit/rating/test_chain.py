"""The billing chain (docs/domain.md "The billing chain"): every level, both profits, the loss flag."""
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.rating.chain import CallToRate, Leg, NotRated, RatedCall, rate_call
from pipeline.rating.rated_call import new_rated_call
from pipeline.reference.book import ReferenceBook
from pipeline.reference.csv_rates import resolve_rates_csv
from pipeline.reference.records import parse_reference_record
from pipeline.schemas.reference import AccountIn, ProviderIn, RateIn, TariffIn

SEED = Path(__file__).parents[2] / "fixtures" / "tariffs" / "seed_chain"
NOON = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


def seed_book() -> ReferenceBook:
    book = ReferenceBook()
    for obj in json.loads((SEED / "reference.json").read_text()):
        record = parse_reference_record(obj)
        if isinstance(record, TariffIn):
            record = resolve_rates_csv(record, SEED)
        assert book.check_ownership(record) is None
        book.apply(record)
    return book


def tariff(tariff_id: str, rate: str, owner: str = "admin", **rate_fields) -> TariffIn:
    return TariffIn(id=tariff_id, owner=owner, rates=(RateIn(prefix="370", rate=rate, **rate_fields),))


def call(account="u1", billsec=60, provider="p1", answered=True, dst="37061234567") -> CallToRate:
    return CallToRate("ast1", "c1", account, dst, NOON, billsec, answered, provider)


def test_seed_example_gives_the_profits_everybody_checks():
    rated = rate_call(call(), seed_book())
    assert (rated.user.price, rated.reseller.price, rated.provider.price) == \
        (Decimal("2"), Decimal("1.2"), Decimal("0.3"))
    assert str(rated.admin_profit) == "0.900000" and str(rated.reseller_profit) == "0.800000"
    assert (rated.reseller_id, rated.currency, rated.loss, rated.own_provider) == ("r1", "EUR", False, False)
    assert rated.charges() == (("u1", Decimal("2")), ("r1", Decimal("1.2")))
    assert (rated.user.level, rated.user.tariff, rated.user.prefix, rated.user.billed_seconds) == \
        ("user", "t-r1-retail", "370", 60)


def test_direct_user_pays_admin_and_only_himself():
    book = seed_book()
    book.apply(tariff("t-direct", "1.5"))
    book.apply(AccountIn(id="d1", type="user", tariff="t-direct"))
    rated = rate_call(call("d1"), book)
    assert rated.reseller is None and rated.reseller_id == ""
    assert (rated.reseller_profit, rated.admin_profit) == (0, Decimal("1.2"))
    assert rated.charges() == (("d1", Decimal("1.5")),)


def test_reseller_pro_own_provider_leaves_admin_out():
    book = seed_book()
    book.apply(AccountIn(id="r1", type="reseller", tariff="t-r1-buy", pro=True))
    book.apply(tariff("t-own", "0.5", owner="r1"))
    book.apply(ProviderIn(id="p-own", owner="r1", tariff="t-own"))
    rated = rate_call(call(provider="p-own"), book)
    assert rated.own_provider and rated.reseller is None
    assert (rated.reseller_profit, rated.admin_profit) == (Decimal("1.5"), 0)
    assert rated.charges() == (("u1", Decimal("2")),)  # the reseller's balance is untouched


def test_no_provider_means_admin_profit_is_the_whole_reseller_price():
    rated = rate_call(call(provider=None), seed_book())
    assert rated.provider is None and rated.admin_profit == Decimal("1.2")


@pytest.mark.parametrize(
    "user_rate, reseller_rate, provider_rate, reseller_allows, admin_allows, loss",
    [
        ("2", "1.2", "0.3", False, False, False),
        ("1", "1.2", "0.3", False, False, True),  # reseller sells below his cost
        ("1", "1.2", "0.3", True, False, False),  # ... but he allows loss calls
        ("2", "1.2", "1.5", False, False, True),  # admin sells below the provider's price
        ("2", "1.2", "1.5", True, False, True),  # the reseller's flag does not cover the admin
        ("2", "1.2", "1.5", False, True, False),  # the admin's does
        ("2", "2", "0.3", False, False, False),  # selling at cost is not a loss
    ],
)
def test_loss_flag(user_rate, reseller_rate, provider_rate, reseller_allows, admin_allows, loss):
    book = ReferenceBook()
    book.apply(AccountIn(id="admin", type="admin", allow_loss_calls=admin_allows))
    for record in (tariff("t-p", provider_rate), tariff("t-r", reseller_rate), tariff("t-u", user_rate, owner="r1"),
                   AccountIn(id="r1", type="reseller", tariff="t-r", allow_loss_calls=reseller_allows),
                   AccountIn(id="u1", type="user", parent="r1", tariff="t-u"), ProviderIn(id="p1", tariff="t-p")):
        book.apply(record)
    assert rate_call(call(), book).loss is loss


def test_direct_user_loss_is_provider_above_user_price():
    book = seed_book()
    book.apply(tariff("t-cheap", "0.1"))
    book.apply(AccountIn(id="d1", type="user", tariff="t-cheap"))
    assert rate_call(call("d1"), book).loss is True


def test_unanswered_call_is_stored_at_zero_even_without_a_rate():
    rated = rate_call(call(billsec=0, answered=False, dst="4912345"), seed_book())
    assert isinstance(rated, RatedCall)
    assert (rated.user.prefix, rated.user.price, rated.admin_profit, rated.reseller_profit) == ("", 0, 0, 0)
    not_answered = rate_call(call(billsec=30, answered=False), seed_book())
    assert (not_answered.user.billed_seconds, not_answered.user.price) == (0, 0)


def test_answered_call_without_a_rate_is_rejected_naming_level_and_tariff():
    result = rate_call(call(dst="4912345"), seed_book())
    assert result == NotRated("no_rate", 'no rate for dst 4912345 at 2026-11-25T10:00:00Z in tariff '
                              '"t-r1-retail" (level user, account u1)', "user", "t-r1-retail")


def test_missing_rate_at_reseller_level_names_that_level():
    book = seed_book()
    book.apply(TariffIn(id="t-r1-buy", rates=(RateIn(prefix="371", rate="1"),)))
    result = rate_call(call(), book)
    assert (result.reason, result.level, result.tariff) == ("no_rate", "reseller", "t-r1-buy")


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda b: None, None),
        (lambda b: b.delete("account", "u1"), "unknown_account"),
        (lambda b: b.delete("provider", "p1"), "unknown_provider"),
        (lambda b: b.delete("tariff", "t-p1"), "unknown_tariff"),
        (lambda b: b.apply(AccountIn(id="u1", type="user", parent="r1")), "no_tariff"),
        (lambda b: b.apply(AccountIn(id="u1", type="user", parent="r9", tariff="t-r1-retail")), "broken_chain"),
        (lambda b: b.apply(TariffIn(id="t-p1", currency="USD", rates=(RateIn(prefix="3", rate="1"),))),
         "currency_mismatch"),
    ],
)
def test_reasons_for_not_rating(change, reason):
    book = seed_book()
    change(book)
    result = rate_call(call(), book)
    assert (result.reason if isinstance(result, NotRated) else None) == reason


def test_deeper_chain_uses_the_nearest_reseller():
    book = seed_book()
    book.apply(AccountIn(id="u2", type="user", parent="u1", tariff="t-r1-retail"))  # bypasses the write checks
    rated = rate_call(call("u2"), book)
    assert (rated.reseller_id, rated.reseller_profit, rated.admin_profit) == ("r1", Decimal("0.8"), Decimal("0.9"))


def test_direct_user_rates_without_an_admin_record_in_the_book():
    book = ReferenceBook()
    book.apply(tariff("t", "1"))
    book.apply(AccountIn(id="d1", type="user", tariff="t"))
    assert rate_call(call("d1", provider=None), book).user.price == 1


def test_fast_constructors_build_the_same_objects_as_the_dataclasses():
    leg = Leg("user", "t", "370", 60, Decimal(2), Decimal("2.000000"))
    fields = (call(), leg, None, leg, "r1", False, Decimal(1), Decimal(2), "EUR", True)
    assert new_rated_call(*fields) == RatedCall(*fields)


@given(st.decimals(0, 10, places=4), st.decimals(0, 10, places=4), st.decimals(0, 10, places=4),
       st.integers(0, 5000), st.booleans())
def test_user_minus_provider_is_the_sum_of_the_profits(user_rate, reseller_rate, provider_rate, billsec, via_reseller):
    book = ReferenceBook()
    for record in (tariff("t-p", str(provider_rate)), tariff("t-r", str(reseller_rate)),
                   tariff("t-u", str(user_rate), owner="r1" if via_reseller else "admin"),
                   AccountIn(id="r1", type="reseller", tariff="t-r"), ProviderIn(id="p1", tariff="t-p"),
                   AccountIn(id="u1", type="user", parent="r1" if via_reseller else "admin", tariff="t-u")):
        book.apply(record)
    rated = rate_call(call(billsec=billsec), book)
    assert rated.user.price - rated.provider.price == rated.reseller_profit + rated.admin_profit


@pytest.mark.parametrize("reseller_allows, loss", [(False, True), (True, False)])
def test_own_provider_dearer_than_the_user_price_is_the_resellers_loss(reseller_allows, loss):
    book = seed_book()
    book.apply(AccountIn(id="r1", type="reseller", tariff="t-r1-buy", pro=True, allow_loss_calls=reseller_allows))
    book.apply(tariff("t-own", "2.5", owner="r1"))
    book.apply(ProviderIn(id="p-own", owner="r1", tariff="t-own"))
    rated = rate_call(call(provider="p-own"), book)
    assert (rated.loss, rated.reseller_profit) == (loss, Decimal("-0.5"))
