"""Who may set a DID's rates: only the admin sets `rates`; the DID's reseller (or the admin) sets
`owner_rate`, and an owner_rate needs a reseller and his user."""
import pytest

from pipeline.reference.book import ReferenceBook
from pipeline.reference.ownership import check_records
from pipeline.schemas.reference import AccountIn, DidIn, RateIn, TariffIn

RATES = {"incoming": {"rate": "0.1"}, "owner": {"rate": "0.5"}, "provider": {"rate": "-0.02"}}


def t(tariff_id: str, owner: str = "admin") -> TariffIn:
    return TariffIn(id=tariff_id, owner=owner, rates=(RateIn(prefix="370", rate="1"),))


@pytest.fixture
def book() -> ReferenceBook:
    book = ReferenceBook()
    records = [t("t-buy"), AccountIn(id="r1", type="reseller", tariff="t-buy"), t("t-r1", owner="r1"),
               AccountIn(id="r2", type="reseller", tariff="t-buy"), t("t-r2", owner="r2"),
               AccountIn(id="u1", type="user", parent="r1", tariff="t-r1"),
               AccountIn(id="u2", type="user", parent="r2", tariff="t-r2"),
               DidIn(number="1001", reseller="r1", rates=RATES)]
    assert check_records(records, book) == []
    for record in records:
        book.apply(record)
    return book


def problems(book, record, writer="admin") -> list[str]:
    return [p.rule for p in check_records([record], book, writer)]


def test_the_admin_sets_rates_and_they_may_be_negative(book):
    assert problems(book, DidIn(number="1002", rates=RATES)) == []
    assert problems(book, DidIn(number="1001", reseller="r1", rates={"owner": {"rate": "-1"}})) == []


def test_the_dids_reseller_sets_owner_rate_for_his_user(book):
    assert problems(book, DidIn(number="1001", reseller="r1", user="u1", rates=RATES,
                                owner_rate={"rate": "0.8"}), "r1") == []


def test_a_reseller_cannot_change_the_admins_rates(book):
    [rule] = problems(book, DidIn(number="1001", reseller="r1", user="u1", rates={"owner": {"rate": "0"}}), "r1")
    assert "only the admin sets the rates" in rule and '"1001"' in rule


def test_another_reseller_cannot_set_owner_rate(book):
    [rule] = problems(book, DidIn(number="1001", reseller="r1", user="u1", rates=RATES,
                                  owner_rate={"rate": "0.8"}), "r2")
    assert "can only assign DIDs that are his" in rule


def test_the_admin_may_set_owner_rate_too_and_drop_it(book):
    """The operator loads an installation with `ref apply` (as the admin) or acts for a reseller:
    he may set the reseller's owner_rate, as he may write the reseller's tariffs."""
    assert problems(book, DidIn(number="1001", reseller="r1", user="u1", rates=RATES, owner_rate={"rate": "0.8"})) == []
    book.apply(DidIn(number="1001", reseller="r1", user="u1", rates=RATES, owner_rate={"rate": "0.8"}))
    assert problems(book, DidIn(number="1001", reseller="r1", user="u1", rates=RATES, owner_rate={"rate": "0.9"})) == []
    assert problems(book, DidIn(number="1001", rates=RATES)) == []  # taking the DID back drops it
    # still only for a reseller's user: the consistency rule holds for the admin too
    [rule] = problems(book, DidIn(number="1001", reseller="r1", rates=RATES, owner_rate={"rate": "0.8"}))
    assert "needs both a reseller and a user" in rule
    [rule] = problems(book, DidIn(number="1001", reseller="r2", user="u1", rates=RATES, owner_rate={"rate": "0.8"}))
    assert "u1" in rule


def test_owner_rate_needs_a_reseller_and_his_user(book):
    [rule] = problems(book, DidIn(number="1001", reseller="r1", rates=RATES, owner_rate={"rate": "0.8"}), "r1")
    assert "needs both a reseller and a user" in rule


@pytest.mark.parametrize("bad", ["--1", "1e3", 0.5, "-0.0000000001"])
def test_a_bad_did_rate_is_refused_naming_the_field(bad):
    from pydantic import ValidationError
    with pytest.raises(ValidationError) as caught:
        DidIn(number="1", rates={"incoming": {"rate": bad}})
    assert caught.value.errors()[0]["loc"][:3] == ("rates", "incoming", "rate")
