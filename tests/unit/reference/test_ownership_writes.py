"""check_records as a reseller writes : each hole found is refused with its rule,
the currency chain is checked when written, and the admin is built in."""
import pytest

from pipeline.reference.book import ReferenceBook
from pipeline.reference.ownership import Problem, check_records
from pipeline.schemas.reference import AccountIn, DidIn, ProviderIn, RateIn, TariffIn


def t(tariff_id: str, owner: str = "admin", currency: str = "EUR") -> TariffIn:
    return TariffIn(id=tariff_id, owner=owner, currency=currency, rates=(RateIn(prefix="370", rate="1"),))


@pytest.fixture
def book() -> ReferenceBook:
    """No admin record: the admin is built in. r1 plain, r2 PRO with his own provider."""
    book = ReferenceBook()
    records = [
        t("t-admin"), t("t-buy"), t("t-p1"), ProviderIn(id="p1", tariff="t-p1"),
        AccountIn(id="r1", type="reseller", tariff="t-buy"), t("t-r1", owner="r1"),
        AccountIn(id="r2", type="reseller", tariff="t-buy", pro=True), t("t-r2", owner="r2"),
        t("t-r2-cost", owner="r2"), ProviderIn(id="p-r2", owner="r2", tariff="t-r2-cost"),
        AccountIn(id="u1", type="user", parent="r1", tariff="t-r1"),
        AccountIn(id="u2", type="user", parent="r2", tariff="t-r2"),
        AccountIn(id="u3", type="user", parent="r1", tariff="t-r1"),
        AccountIn(id="d1", type="user", tariff="t-admin"),
        DidIn(number="37052000001", reseller="r1", user="u1"),
        DidIn(number="37052000002", reseller="r2"),
    ]
    assert check_records(records, book) == []
    for record in records:
        book.apply(record)
    return book


def refused(book, record, writer="admin") -> str:
    problems = check_records([record], book, writer)
    assert len(problems) == 1, problems
    return problems[0].rule


@pytest.mark.parametrize("record, rule", [
    # re-parenting another reseller's user to himself, by id
    (AccountIn(id="u2", type="user", parent="r1", tariff="t-r1"), 'account "u2" is a user of "r2"'),
    # claiming the admin's provider or tariff by id
    (ProviderIn(id="p1", owner="r1", tariff="t-r1"), 'provider "p1" belongs to "admin"'),
    (TariffIn(id="t-admin", owner="r1"), 'tariff "t-admin" belongs to "admin"'),
    # claiming another reseller's tariff, and writing the admin or himself
    (TariffIn(id="t-r2", owner="r1"), 'tariff "t-r2" belongs to "r2"'),
    (AccountIn(id="admin", type="admin"), "may only write users of his own"),
    (AccountIn(id="r1", type="reseller", tariff="t-buy", pro=True), "may only write users of his own"),
    # giving his DID another reseller's tariff (or the admin's)
    (DidIn(number="37052000001", reseller="r1", user="u1", tariff="t-r2"), 'tariff "t-r2" belongs to "r2"'),
    (DidIn(number="37052000001", reseller="r1", user="u1", tariff="t-admin"), "a tariff of his own"),
    # a DID of another reseller, and a DID nobody created
    (DidIn(number="37052000002", reseller="r1"), "can only assign DIDs that are his"),
    (DidIn(number="37052000009", reseller="r1"), "only the admin creates DIDs"),
])
def test_a_reseller_cannot_write_what_is_not_his(book, record, rule):
    assert rule in refused(book, record, writer="r1")


def test_users_write_nothing(book):
    assert "only the admin and resellers" in refused(book, t("t-x", owner="u1"), writer="u1")
    assert "only the admin and resellers" in refused(book, t("t-x", owner="nobody"), writer="nobody")


@pytest.mark.parametrize("record, writer, rule", [
    # re-owning a tariff a provider uses / another account uses
    (TariffIn(id="t-p1", owner="r2"), "admin", 'tariff "t-p1" is the tariff of provider "p1" of "admin"'),
    (TariffIn(id="t-r1", owner="r2"), "admin", 'tariff "t-r1" is assigned to user "u1" of "r1"'),
    (TariffIn(id="t-r2-cost", owner="admin"), "admin", 'provider "p-r2" of "r2"'),
    # moving a user who holds a DID to another reseller
    (AccountIn(id="u1", type="user", parent="r2", tariff="t-r2"), "admin", 'holds DID "37052000001"'),
    # a PRO reseller who loses PRO keeps his provider's "own" pricing
    (AccountIn(id="r2", type="reseller", tariff="t-buy", pro=False), "admin",
     'owns provider "p-r2", so this change is refused: provider "p-r2" must be owned by the admin or a reseller PRO'),
    # a reseller who becomes a user while users, tariffs hang under him
    (AccountIn(id="r1", type="user", tariff="t-admin"), "admin", 'has user "u1" under it'),
    # a DID with another reseller's tariff, written by the admin
    (DidIn(number="37052000001", reseller="r1", user="u1", tariff="t-r2"), "admin",
     'may only have a tariff of the admin or of its reseller'),
])
def test_a_change_that_strands_what_depends_on_it_is_refused(book, record, writer, rule):
    assert rule in refused(book, record, writer)


@pytest.mark.parametrize("records, rule", [
    # the user's tariff in another currency than his reseller's: every call would be currency_mismatch
    ([t("t-r1-usd", owner="r1", currency="USD"), AccountIn(id="u1", type="user", parent="r1", tariff="t-r1-usd")],
     'currency chain: tariff "t-r1-usd" of user "u1" is in USD, tariff "t-buy" of his reseller "r1" in EUR'),
    # the same by changing the currency of the tariff the users are on
    ([t("t-r1", owner="r1", currency="USD")], 'of user "u1" is in USD'),
    # ... or of the reseller's own tariff
    ([t("t-buy", currency="USD")], "currency chain"),
    # ... or by giving the reseller a tariff in another currency
    ([t("t-buy-usd", currency="USD"), AccountIn(id="r1", type="reseller", tariff="t-buy-usd")], "currency chain"),
])
def test_the_currency_chain_is_checked_when_written(book, records, rule):
    problems = check_records(records, book)
    assert [p.position for p in problems] == [len(records) - 1] and rule in problems[0].rule, problems


def test_what_a_reseller_may_write_passes(book):
    records = [
        t("t-r1-new", owner="r1"),
        AccountIn(id="u1", type="user", parent="r1", tariff="t-r1-new", blocked=True, billing="postpaid",
                  credit_limit="20"),
        AccountIn(id="u9", type="user", parent="r1", tariff="t-r1"),
        DidIn(number="37052000001", reseller="r1", user="u1", tariff="t-r1"),
    ]
    assert check_records(records, book, writer="r1") == []
    assert check_records([t("t-r2-cost", owner="r2"), ProviderIn(id="p-r2", owner="r2", tariff="t-r2")],
                         book, writer="r2") == []


def test_problems_name_the_position_and_a_refused_record_is_not_applied(book):
    records = [
        AccountIn(id="r9", type="reseller", tariff="t-r2"),  # refused: t-r2 is r2's
        AccountIn(id="u9", type="user", parent="r9"),  # so r9 does not exist for this one
        AccountIn(id="u8", type="user", parent="r1", tariff="t-r1"),
    ]
    problems = check_records(records, book)
    assert [p.position for p in problems] == [0, 1]
    assert problems[1] == Problem(1, 'parent "r9" of user "u9" does not exist')
    assert book.account("u8") is None  # checking changes nothing


def test_a_dids_user_can_move_once_the_did_goes_first(book):
    records = [
        DidIn(number="37052000001", reseller="r1"),  # taken back from u1
        AccountIn(id="u1", type="user", parent="r2", tariff="t-r2"),
        DidIn(number="37052000001", reseller="r2", user="u1"),
    ]
    assert check_records(records, book) == []


# -- the built-in admin ----------------------------------------------------------------------------

def test_the_admin_exists_without_a_record():
    book = ReferenceBook()
    assert book.account("admin").type == "admin"
    assert check_records([t("t-buy"), AccountIn(id="r1", type="reseller", tariff="t-buy")], book) == []
    book.apply(AccountIn(id="admin", type="admin", name="The Operator", allow_loss_calls=True))
    assert book.account("admin").name == "The Operator"
    book.delete("account", "admin")
    assert book.account("admin").type == "admin" and not book.account("admin").allow_loss_calls


def test_blocking_the_admin_is_refused_with_the_rule(book):
    assert "the admin cannot be blocked" in refused(book, AccountIn(id="admin", type="admin", blocked=True))
    assert check_records([AccountIn(id="admin", type="admin", name="Operator")], book) == []


@pytest.mark.parametrize("record, rule", [
    (AccountIn(id="admin", type="user", parent="r1"), '"admin" is the built-in admin and cannot be a user'),
    (AccountIn(id="boss", type="admin"), 'there is one admin per installation and "admin" is it'),
])
def test_there_is_one_admin_and_it_is_admin(book, record, rule):
    assert rule in refused(book, record)


def test_the_graph_built_late_equals_the_graph_kept_up_to_date(book):
    early = ReferenceBook()
    early.graph  # built now, then kept up to date record by record
    late = ReferenceBook()
    for target in (early, late):
        for record in [*book.tariffs(), *book.accounts(), *book.providers(), *book.dids()]:
            if isinstance(record, TariffIn):  # the book keeps headers: give each its rates back
                record = record.model_copy(update={"rates": (RateIn(prefix="1", rate="1"),)})
            target.apply(record)
        target.delete("account", "u3")
    assert early._graph._maps == late.graph._maps
    assert "u3" not in early.graph.linked("children", "r1") and "u1" in early.graph.linked("children", "r1")
