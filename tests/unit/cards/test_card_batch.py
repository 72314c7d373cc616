"""Card batches and states (pure): the PIN space limit, unique numbers never reused, the CSV's
shape, the records a batch publishes, and that no PIN or hash leaves by a listing."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.cards import batch
from pipeline.cards.batch import (
    CardRefused,
    card_row,
    change_state,
    generate,
    shown_state,
)
from pipeline.reference.book import ReferenceBook
from pipeline.reference.ownership import check_records
from pipeline.reference.records import parse_reference_record
from pipeline.schemas.cards import pin_matches

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BASE = [
    {"kind": "tariff", "id": "t-r1-buy", "owner": "admin", "rates": [{"prefix": "370", "rate": "0.1"}]},
    {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t-r1-buy"},
    {"kind": "tariff", "id": "t-r1-cards", "owner": "r1", "rates": [{"prefix": "370", "rate": "0.3"}]},
]


def book_with(group: dict | None = None, *more: dict) -> ReferenceBook:
    made = ReferenceBook()
    group = {"kind": "card_group", "id": "g1", "owner": "r1", "tariff": "t-r1-cards", "face_value": "5",
             "number_length": 8, "pin_length": 4, **(group or {})}
    for record in (*BASE, group, *more):
        made.apply(parse_reference_record(record))
    return made


def publish(book: ReferenceBook, made: batch.Batch) -> None:
    for record in made.records():
        book.apply(record)


def test_a_batch_is_cards_their_accounts_and_face_values_and_the_write_rules_take_it():
    book = book_with()
    made = generate(book, "g1", 50, now=NOW)
    assert len({c.number for c in made.cards}) == 50
    assert all(len(c.number) == 8 and c.number.isdigit() and c.number[0] != "0" for c in made.cards)
    assert all(c.state == "new" and c.group == "g1" and c.created == NOW for c in made.cards)
    assert all(pin_matches(pin, c.pin_hash) for c, pin in zip(made.cards, made.pins))
    assert all(len(pin) == 4 and pin.isdigit() for pin in made.pins) and len(set(made.pins)) == 50
    for card, account in zip(made.cards, made.accounts):
        assert (account.id, account.type, account.parent, account.tariff, account.billing, account.call_limit) == (
            card.number, "user", "r1", "t-r1-cards", "prepaid", 1)
    assert made.payments == tuple({"id": f"card-face:{c.number}", "account": c.number, "amount": "5"}
                                  for c in made.cards)
    assert [r.kind for r in made.records()[:4]] == ["card", "account", "card", "account"]
    assert check_records(made.records(), book, "r1") == []  # the reseller may publish his own batch
    assert [p.rule for p in check_records(made.records()[:2], book, "r2")]  # nobody else may


def test_sold_batches_are_sold_and_a_group_without_face_value_has_no_payments():
    assert {c.state for c in generate(book_with(), "g1", 3, sold=True).cards} == {"sold"}
    assert generate(book_with({"face_value": "0"}), "g1", 3).payments == ()


def test_the_csv_is_number_pin_balance_and_the_only_place_pins_exist():
    made = generate(book_with({"face_value": "2.50"}), "g1", 20)
    rows = list(csv.reader(io.StringIO(made.csv())))
    assert rows[0] == ["number", "pin", "balance"]
    assert rows[1:] == [[c.number, pin, "2.50"] for c, pin in zip(made.cards, made.pins)]
    assert not any("pbkdf2" in cell for row in rows for cell in row)
    listed = str([card_row(book_with(), c, Decimal(0)) for c in made.cards])
    assert "pbkdf2" not in listed and not any(f"'{pin}'" in listed for pin in made.pins)
    assert not any(pin in c.model_dump_json() for c, pin in zip(made.cards, made.pins)
                   if pin not in c.number and pin not in c.pin_hash)  # a record holds no PIN in clear


def test_a_group_holds_at_most_a_fifth_of_its_pin_space():
    book = book_with({"pin_length": 4})  # 10,000 PINs: 2,000 cards
    with pytest.raises(CardRefused, match="at most 2000 cards"):
        generate(book, "g1", 2001)
    publish(book, generate(book, "g1", 1990))
    with pytest.raises(CardRefused, match="it has 1990"):
        generate(book, "g1", 11)
    assert len(generate(book, "g1", 10).cards) == 10


def test_numbers_are_never_an_existing_card_or_account(monkeypatch):
    book = book_with({}, {"kind": "account", "id": "10000003", "type": "user", "parent": "r1", "tariff": "t-r1-cards"})
    first = generate(book, "g1", 5)
    publish(book, first)
    existing = int(first.cards[0].number) - 10_000_000
    monkeypatch.setattr(batch.secrets, "randbelow", lambda span: existing if span == 90_000_000 else span - 1)
    with pytest.raises(CardRefused, match="no free numbers"):  # every draw taken: the space is called full
        generate(book, "g1", 1)
    draws = iter([existing, 3, 5, 5, 6])  # an existing card, an existing account, a repeat
    pins = iter(range(10_000))
    monkeypatch.setattr(batch.secrets, "randbelow", lambda span: next(draws) if span == 90_000_000 else next(pins))
    made = generate(book, "g1", 2)
    assert [c.number for c in made.cards] == ["10000005", "10000006"]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=4))
def test_batches_after_batches_never_repeat_a_number(sizes):
    book = book_with({"number_length": 6})
    seen: set[str] = set()
    for size in sizes:
        made = generate(book, "g1", size)
        numbers = {c.number for c in made.cards}
        assert len(numbers) == size and not numbers & seen
        seen |= numbers
        publish(book, made)


def test_unknown_groups_and_empty_batches_are_refused():
    with pytest.raises(CardRefused, match='"nope" does not exist'):
        generate(book_with(), "nope", 1)
    with pytest.raises(CardRefused, match="at least one"):
        generate(book_with(), "g1", 0)


def test_sell_block_unblock():
    book = book_with()
    made = generate(book, "g1", 1)
    publish(book, made)
    number = made.cards[0].number
    sold = change_state(book, number, "sell")
    assert [r.kind for r in sold] == ["card"] and sold[0].state == "sold" and sold[0].pin_hash == made.cards[0].pin_hash
    publish_records(book, sold)
    assert change_state(book, number, "sell")[0].state == "sold"  # again: nothing changes
    with pytest.raises(CardRefused, match="not blocked"):
        change_state(book, number, "unblock")
    blocked = change_state(book, number, "block")
    assert (blocked[0].state, blocked[1].id, blocked[1].blocked) == ("blocked", number, True)
    publish_records(book, blocked)
    with pytest.raises(CardRefused, match="is blocked"):
        change_state(book, number, "sell")
    unblocked = change_state(book, number, "unblock")
    assert (unblocked[0].state, unblocked[1].blocked) == ("sold", False)
    assert check_records(unblocked, book, "r1") == [] and check_records(blocked, book, "r2")
    with pytest.raises(CardRefused, match="does not exist"):
        change_state(book, "12345678", "block")


def publish_records(book, records):
    for record in records:
        book.apply(record)


def test_expired_is_computed_from_the_group_and_blocked_stays_blocked():
    book = book_with({"expiry": {"mode": "after_creation", "days": 30}})
    card = generate(book, "g1", 1, sold=True, now=NOW).cards[0]
    group = book.card_group("g1")
    assert shown_state(group, card, None, NOW + timedelta(days=29)) == "sold"
    assert shown_state(group, card, None, NOW + timedelta(days=30)) == "expired"
    assert shown_state(group, card.model_copy(update={"state": "blocked"}), None, NOW + timedelta(days=31)) == "blocked"
