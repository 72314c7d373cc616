"""Write-side ownership rules (one failing case each) and the book's bookkeeping."""
from datetime import date, datetime, timezone

import pytest

from pipeline.reference.book import ReferenceBook
from pipeline.schemas.reference import AccountIn, DidIn, HolidaysIn, ProviderIn, RateIn, TariffIn


def t(tariff_id: str, owner: str = "admin") -> TariffIn:
    return TariffIn(id=tariff_id, owner=owner, rates=(RateIn(prefix="370", rate="1"),))


@pytest.fixture
def book() -> ReferenceBook:
    book = ReferenceBook()
    for record in (AccountIn(id="admin", type="admin"), t("t-admin"), t("t-r1-buy"),
                   AccountIn(id="r1", type="reseller", tariff="t-r1-buy"), t("t-r1", owner="r1"),
                   AccountIn(id="r2", type="reseller", pro=True), t("t-r2", owner="r2"),
                   AccountIn(id="u1", type="user", parent="r1", tariff="t-r1"),
                   AccountIn(id="u2", type="user", parent="r2", tariff="t-r2"),
                   DidIn(number="37052000001", reseller="r1")):
        assert book.check_ownership(record) is None, record
        book.apply(record)
    return book


@pytest.mark.parametrize(
    "record, actor, rule",
    [
        (AccountIn(id="u3", type="user", parent="r9"), None, 'parent "r9" of user "u3" does not exist'),
        (AccountIn(id="u3", type="user", parent="u1"), None, 'must be reseller or admin; "u1" is a user'),
        (AccountIn(id="r3", type="reseller", parent="r1"), None, 'must be admin; "r1" is a reseller'),
        (AccountIn(id="u3", type="user", parent="r1", tariff="t-r2"), None, 'tariff "t-r2" belongs to "r2"'),
        (AccountIn(id="u3", type="user", parent="r1", tariff="t-none"), None, 'tariff "t-none" of user "u3" does not exist'),
        (AccountIn(id="r3", type="reseller", tariff="t-r1"), None, 'tariff "t-r1" belongs to "r1"'),
        (AccountIn(id="boss", type="admin"), None, "one admin per installation"),
        (AccountIn(id="r1", type="user", parent="admin"), None, 'has user "u1" under it'),
        (AccountIn(id="u3", type="user", parent="r2", tariff="t-r2"), "r1", 'may only write users of his own'),
        (TariffIn(id="t-x", owner="u1"), None, 'owner "u1" of tariff "t-x" must be an existing admin or reseller'),
        (TariffIn(id="t-x", owner="r2"), "r1", 'may only write tariffs of his own'),
        (TariffIn(id="t-r1", owner="r2"), None, 'is assigned to user "u1" of "r1"'),
        (ProviderIn(id="p9", owner="r1", tariff="t-r1"), None, '"r1" is a reseller without PRO'),
        (ProviderIn(id="p9", owner="r2", tariff="t-r1"), None, 'tariff "t-r1" belongs to "r1"'),
        (ProviderIn(id="p9", tariff="t-none"), None, 'tariff "t-none" of provider "p9" does not exist'),
        (DidIn(number="37052000002", reseller="r1"), "r1", "only the admin creates DIDs"),
        (DidIn(number="37052000001", reseller="r2"), "r2", "can only assign DIDs that are his"),
        (DidIn(number="37052000001", reseller="r1", user="u2"), None, 'user "u2" does not belong to reseller "r1"'),
        (DidIn(number="37052000001", reseller="u1"), None, '"u1" is not an existing reseller'),
        (DidIn(number="37052000001", user="r1"), None, '"r1" is not an existing user'),
        (HolidaysIn(dates=(date(2026, 12, 24),)), "r1", "only the admin sets"),
        (t("t-x"), "u1", "only the admin and resellers"),
    ],
)
def test_each_ownership_rule_has_a_failing_case(book, record, actor, rule):
    violation = book.check_ownership(record, actor)
    assert violation is not None and rule in violation, violation


@pytest.mark.parametrize(
    "record, actor",
    [
        (AccountIn(id="u3", type="user", parent="r1", tariff="t-r1"), "r1"),  # reseller assigns his own tariff
        (AccountIn(id="d1", type="user", tariff="t-admin"), None),  # direct user of admin
        (ProviderIn(id="p-r2", owner="r2", tariff="t-r2"), "r2"),  # reseller PRO owns a provider
        (DidIn(number="37052000001", reseller="r1", user="u1"), "r1"),  # reseller assigns his DID to his user
        (DidIn(number="37052000001", user="u2"), None),  # admin assigns straight to a user
    ],
)
def test_allowed_writes_pass(book, record, actor):
    assert book.check_ownership(record, actor) is None


def test_updating_one_tariff_recompiles_only_that_tariff(book):
    other = book.tariff_index("t-r1-buy")
    book.apply(TariffIn(id="t-r1", owner="r1", rates=(RateIn(prefix="370", rate="3"),)))
    assert book.tariff_index("t-r1-buy") is other
    assert book.tariff_index("t-r1").versions("370")[0].rate == 3
    assert book.tariff("t-r1").rates == ()  # the book keeps the header, the index keeps the rates


def test_chain_cache_follows_changes(book):
    assert book.chain_plan("u1").user_index.tariff_id == "t-r1"
    book.apply(t("t-r1b", owner="r1"))
    book.apply(AccountIn(id="u1", type="user", parent="r1", tariff="t-r1b"))
    assert book.chain_plan("u1").user_index.tariff_id == "t-r1b"
    book.update_rates("t-r1b", [RateIn(prefix="371", rate="9")])
    assert book.chain_plan("u1").user_index.versions("371")[0].rate == 9


def test_ancestors_and_delete(book):
    assert [a.id for a in book.ancestors("u1")] == ["r1", "admin"]
    book.delete("account", "u1")
    book.delete("account", "u1")  # a replayed delete is harmless
    assert book.account("u1") is None
    with pytest.raises(ValueError, match="unknown kind"):
        book.delete("planet", "x")


def test_scratch_copy_does_not_touch_the_original(book):
    scratch = book.copy()
    scratch.apply(AccountIn(id="u9", type="user", parent="r1"))
    assert scratch.account("u9") is not None and book.account("u9") is None


def test_holidays_make_a_weekday_a_free_day_for_rating(book):
    from pipeline.rating.chain import CallToRate, rate_call
    book.apply(TariffIn(id="t-r1", owner="r1", rates=(RateIn(prefix="370", rate="1", day_type="WD"),
                                                      RateIn(prefix="370", rate="2", day_type="FD"))))
    christmas_eve = CallToRate("ast1", "c1", "u1", "3705", datetime(2026, 12, 24, 12, tzinfo=timezone.utc), 60, True, None)
    assert rate_call(christmas_eve, book).user.price == 1  # a Thursday
    book.apply(HolidaysIn(dates=(date(2026, 12, 24),)))
    assert rate_call(christmas_eve, book).user.price == 2


def test_tariff_with_unread_csv_is_refused(book):
    with pytest.raises(ValueError, match="read rates_csv before applying"):
        book.apply(TariffIn(id="t-csv", rates_csv="rates.csv"))
