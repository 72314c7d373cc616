"""Archived accounts and tariffs (pipeline/reference/archive_rules.py): kept, given to nothing new,
archived only once nothing active hangs on them; an archived account is blocked with reason
"archived" by the guard and refused by the authorizer."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from pipeline.authorize.decide import Live, decide
from pipeline.authorize.request import AuthorizeRequest
from pipeline.balances.blocking import evaluate
from pipeline.reference.book import ReferenceBook
from pipeline.reference.ownership import check_records
from pipeline.schemas.reference import AccountIn, DidIn, ProviderIn, RateIn, TariffIn


def t(tariff_id: str, owner: str = "admin", archived: bool = False) -> TariffIn:
    return TariffIn(id=tariff_id, owner=owner, archived=archived, rates=(RateIn(prefix="370", rate="1"),))


@pytest.fixture
def book() -> ReferenceBook:
    made = ReferenceBook()
    records = [
        t("t-buy"), t("t-p1"), ProviderIn(id="p1", tariff="t-p1"),
        AccountIn(id="r1", type="reseller", tariff="t-buy", pro=True), t("t-r1", owner="r1"), t("t-r1-old", owner="r1"),
        AccountIn(id="u1", type="user", parent="r1", tariff="t-r1"),
        AccountIn(id="u-gone", type="user", parent="r1", tariff="t-r1-old"),
        DidIn(number="37052000001", reseller="r1", user="u1"),
    ]
    assert check_records(records, made) == []
    for record in records:
        made.apply(record)
    return made


def rules(book, *records, writer="admin") -> list[str]:
    return [problem.rule for problem in check_records(list(records), book, writer)]


def account(book, account_id, **changes) -> AccountIn:
    return book.account(account_id).model_copy(update=changes)


def tariff(book, tariff_id, **changes) -> TariffIn:
    return book.tariff(tariff_id).model_copy(update=changes)


def test_a_tariff_in_use_cannot_be_archived_and_one_out_of_use_can(book):
    assert rules(book, tariff(book, "t-r1", archived=True), writer="r1") == [
        'tariff "t-r1" cannot be archived while user "u1" is on it: move or archive it first']
    # u-gone is archived first; then its old tariff goes, and the archived user on it stays as he is
    assert rules(book, account(book, "u-gone", archived=True), tariff(book, "t-r1-old", archived=True),
                 writer="r1") == []


def test_a_tariff_of_a_provider_cannot_be_archived(book):
    assert "provider \"p1\" is on it" in rules(book, tariff(book, "t-p1", archived=True))[0]


def test_nothing_new_goes_to_an_archived_tariff_or_under_an_archived_account(book):
    book.apply(account(book, "u-gone", archived=True))
    book.apply(tariff(book, "t-r1-old", archived=True))
    assert rules(book, account(book, "u1", tariff="t-r1-old"), writer="r1") == [
        'tariff "t-r1-old" is archived: user "u1" cannot be on it (unarchive it first, or choose another)']
    assert rules(book, AccountIn(id="u9", type="user", parent="r1", tariff="t-r1-old"), writer="r1")
    assert rules(book, ProviderIn(id="p9", owner="r1", tariff="t-r1-old"), writer="r1")
    assert rules(book, DidIn(number="37052000001", reseller="r1", user="u-gone"))[0].startswith(
        'user "u-gone" is archived: DID "37052000001" cannot be given to it')
    # an archived user comes back only onto a tariff that is not archived
    assert rules(book, account(book, "u-gone", archived=False), writer="r1")
    assert rules(book, account(book, "u-gone", archived=False, tariff="t-r1"), writer="r1") == []


def test_an_account_with_users_or_dids_cannot_be_archived_nor_the_admin(book):
    assert rules(book, account(book, "u1", archived=True), writer="r1") == [
        'user "u1" cannot be archived while DID "37052000001" is given to it: take it back first']
    assert 'while user "u-gone" is under it' in rules(book, account(book, "r1", archived=True))[0]
    assert rules(book, AccountIn(id="admin", type="admin", archived=True)) == [
        '"admin" is the built-in admin and cannot be archived']


def test_an_archived_reseller_owns_nothing_new(book):
    book.apply(DidIn(number="37052000001", reseller="r1"))
    for user in ("u1", "u-gone"):
        book.apply(account(book, user, archived=True))
    book.apply(account(book, "r1", archived=True))
    assert rules(book, t("t-new", owner="r1")) == [
        'reseller "r1" is archived: tariff "t-new" cannot belong to it (unarchive it first)']


def test_the_guard_blocks_an_archived_account_and_his_users_follow(book):
    book.apply(account(book, "u-gone", archived=True))
    balances = {"u-gone": Decimal(50), "u1": Decimal(50), "r1": Decimal(50)}
    state = evaluate("u-gone", book.account, balances, "ast1")
    assert (state.state, state.reason) == ("blocked", "archived")
    assert evaluate("u1", book.account, balances, "ast1").reason == "ok"
    archived_reseller = {"r1": book.account("r1").model_copy(update={"archived": True}), "u1": book.account("u1")}
    assert evaluate("u1", archived_reseller.get, balances, "ast1").reason == "reseller_blocked"


def test_the_authorizer_refuses_an_archived_account(book):
    book.apply(account(book, "u-gone", archived=True))
    live = Live({"u-gone": Decimal(50), "r1": Decimal(50), "u1": Decimal(50)}, {}, {}, {})
    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    answer = decide(AuthorizeRequest(server_id="s", call_id="c", account="u-gone", dst="37060000000"), book, live,
                    now, 7200)
    assert (answer.allowed, answer.reason, answer.sip_code) == (False, "blocked", 403)
    allowed = decide(AuthorizeRequest(server_id="s", call_id="c2", account="u1", dst="37060000000"), book, live,
                     now, 7200)
    assert allowed.allowed
