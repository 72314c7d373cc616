"""The write rules of card groups and cards (pipeline/cards/rules.py, through the reference write
rules `ref apply` and the API share) and the book's card lookups."""
from __future__ import annotations

import pytest

from pipeline.kafka.topics import REFERENCE_TOPICS, spec
from pipeline.reference.book import ReferenceBook
from pipeline.reference.ownership import check_records
from pipeline.reference.records import parse_reference_record
from pipeline.schemas.cards import card_account, hash_pin

NOW = "2026-12-01T12:00:00Z"
WORLD = [
    {"kind": "tariff", "id": "t-buy", "owner": "admin", "rates": [{"prefix": "370", "rate": "0.1"}]},
    {"kind": "tariff", "id": "t-usd", "owner": "admin", "currency": "USD", "rates": [{"prefix": "370", "rate": "0.1"}]},
    {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t-buy"},
    {"kind": "account", "id": "r2", "type": "reseller", "tariff": "t-buy"},
    {"kind": "tariff", "id": "t-r1", "owner": "r1", "rates": [{"prefix": "370", "rate": "0.3"}]},
    {"kind": "tariff", "id": "t-r2", "owner": "r2", "rates": [{"prefix": "370", "rate": "0.3"}]},
    {"kind": "account", "id": "u2", "type": "user", "parent": "r2", "tariff": "t-r2"},
    {"kind": "card_group", "id": "g1", "owner": "r1", "tariff": "t-r1", "number_length": 6},
]


def world() -> ReferenceBook:
    book = ReferenceBook()
    for record in WORLD:
        book.apply(parse_reference_record(record))
    return book


def rec(**fields):
    return parse_reference_record(fields)


def card(number="123456", group="g1", **more):
    return rec(kind="card", number=number, group=group, pin_hash=hash_pin("1234"), created=NOW, **more)


def rules(records, writer="admin", book=None) -> list[str]:
    return [p.rule for p in check_records(records, book or world(), writer)]


def test_the_kinds_have_compacted_single_partition_topics():
    for kind, topic in (("card_group", "ref.card_groups"), ("card", "ref.cards")):
        assert REFERENCE_TOPICS[kind] == topic
        found = spec(topic)
        assert found.partitions == 1 and found.config["cleanup.policy"] == "compact"


@pytest.mark.parametrize("group, expected", [
    ({"owner": "u2", "tariff": "t-r2"}, 'owner "u2" must be the admin or a reseller'),
    ({"owner": "nobody", "tariff": "t-r1"}, 'owner "nobody" must be the admin or a reseller'),
    ({"owner": "r1", "tariff": "t-buy"}, 'needs a tariff of that owner'),  # the admin's, not his
    ({"owner": "r1", "tariff": "t-r2"}, 'tariff "t-r2" belongs to "r2"'),
    ({"owner": "r1", "tariff": "t-missing"}, 'tariff "t-missing" does not exist'),
    ({"owner": "admin", "tariff": "t-usd"}, 'is in EUR, its tariff "t-usd" in USD'),
])
def test_a_group_is_the_admins_or_a_resellers_on_his_own_tariff_in_its_currency(group, expected):
    found = rules([rec(kind="card_group", id="g9", **group)])
    assert len(found) == 1 and expected in found[0], found


def test_good_groups_pass_for_their_owner_only():
    assert rules([rec(kind="card_group", id="g9", owner="admin", tariff="t-usd", currency="USD")]) == []
    assert rules([rec(kind="card_group", id="g9", owner="r1", tariff="t-r1")], "r1") == []
    assert "may only write card groups of his own" in rules([rec(kind="card_group", id="g9", owner="r2",
                                                               tariff="t-r2")], "r1")[0]
    # taking over another's group, even naming oneself the owner
    assert "another's" in rules([rec(kind="card_group", id="g1", owner="r2", tariff="t-r2")], "r2")[0]
    assert "only the admin and resellers" in rules([rec(kind="card_group", id="g9", owner="u2", tariff="t-r2")], "u2")[0]


def test_a_card_needs_its_group_the_groups_length_and_an_account_that_is_nobody_elses():
    assert 'card group "nope" does not exist' in rules([card(group="nope")])[0]
    assert "numbers of 6 digits, not 7" in rules([card(number="1234567")])[0]
    taken = world()
    taken.apply(rec(kind="account", id="123456", type="user", parent="r2", tariff="t-r2"))
    assert 'that account is a user of "r2"' in rules([card()], book=taken)[0]
    group = taken.card_group("g1")
    good = world()
    assert rules([card(), rec(**card_account(group, "123456"))], "r1", good) == []
    # the card's account cannot then be moved to another owner
    for record in (card(), rec(**card_account(group, "123456"))):
        good.apply(record)
    moved = rec(kind="account", id="123456", type="user", parent="r2", tariff="t-r2")
    assert 'pays through account "123456"' in rules([moved], "admin", good)[0]


def test_only_the_groups_owner_writes_its_cards():
    assert "cards of his own card groups" in rules([card()], "r2")[0]
    assert rules([card()], "r1") == []


def test_a_group_with_cards_keeps_its_owner_and_tariff():
    book = world()
    book.apply(rec(kind="tariff", id="t-r1-b", owner="r1", rates=[{"prefix": "370", "rate": "0.5"}]))
    assert rules([rec(kind="card_group", id="g1", owner="r1", tariff="t-r1-b", number_length=6)], "r1", book) == []
    for record in (card(), rec(**card_account(book.card_group("g1"), "123456"))):
        book.apply(record)
    found = rules([rec(kind="card_group", id="g1", owner="r1", tariff="t-r1-b", number_length=6)], "r1", book)
    assert "has cards" in found[0]
    assert "USD" in rules([rec(kind="tariff", id="t-r1", owner="r1", currency="USD")], "admin", book)[0]
    # a tariff's currency cannot change under a group, even one without cards
    assert 'tariff of card group "g1"' in rules([rec(kind="tariff", id="t-r1", owner="r1", currency="USD")])[0]


def test_the_book_finds_cards_by_group_and_caller_id_and_forgets_them():
    book = world()
    book.apply(card(caller_ids=("37060000001",)))
    book.apply(card(number="654321"))
    assert [c.number for c in book.cards_of_group("g1")] == ["123456", "654321"]
    assert book.card_by_caller_id("37060000001").number == "123456"
    book.apply(card())  # the caller id taken off
    assert book.card_by_caller_id("37060000001") is None
    book.delete("card", "654321")
    assert [c.number for c in book.cards_of_group("g1")] == ["123456"] and book.card("654321") is None
    copy = book.copy()
    copy.delete("card", "123456")
    assert book.card("123456") is not None and copy.cards_of_group("g1") == []
    book.delete("card_group", "g1")
    assert book.card_group("g1") is None and [g.id for g in world().card_groups()] == ["g1"]
