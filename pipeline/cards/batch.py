"""Making cards in batches, and changing a card's state: pure, against the reference book.

`generate(book, group_id, count)` picks unique numbers and random PINs (both from `secrets`) and
returns what to publish: each card (its PIN as a salted hash) followed by its prepaid account
(records.card_account), and the face value of each card as a payment with id `card-face:NUMBER`
(applied once however often it is delivered). The PINs in clear exist only in the returned
batch, for its CSV (`number,pin,balance`): nothing else prints or stores them.

A group may hold at most PIN_SPACE_SHARE of its PIN space (CardGroupIn.most_cards): past that, a
PIN guessed for a number would too often be right. A batch that would pass it is refused whole.
PINs are unique within a batch; across batches only their hashes exist, so they may repeat there,
as any two random PINs may (a PIN is checked together with its card's number).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from pipeline.reference.book import ReferenceBook
from pipeline.schemas.cards import (
    PIN_SPACE_SHARE,
    CardGroupIn,
    CardIn,
    card_account,
    expires_at,
    hash_pin,
)
from pipeline.schemas.reference import AccountIn

FACE_PAYMENT_PREFIX = "card-face:"
CSV_HEADER = "number,pin,balance"
NUMBER_TRIES = 50  # random draws per card before the number space is called full
Action = Literal["sell", "block", "unblock"]
PIN_SPACE_PERCENT = int(PIN_SPACE_SHARE * 100)


class CardRefused(ValueError):
    """A batch or a state change that cannot be made, with the reason as a sentence."""


@dataclass(frozen=True)
class Batch:
    group: CardGroupIn
    cards: tuple[CardIn, ...]
    pins: tuple[str, ...]  # in clear, in the cards' order: for the CSV only
    accounts: tuple[AccountIn, ...]
    payments: tuple[dict[str, str], ...]

    def records(self) -> list[CardIn | AccountIn]:
        """Each card, then its account (the write rules check the card before its account exists)."""
        return [record for pair in zip(self.cards, self.accounts) for record in pair]

    def csv_lines(self):
        yield CSV_HEADER + "\n"
        balance = str(self.group.face_value)
        for card, pin in zip(self.cards, self.pins):
            yield f"{card.number},{pin},{balance}\n"

    def csv(self) -> str:
        return "".join(self.csv_lines())


def face_payment(group: CardGroupIn, number: str) -> dict[str, str] | None:
    """The card's starting balance as a payment; None for a group without a face value."""
    if group.face_value <= 0:
        return None
    return {"id": f"{FACE_PAYMENT_PREFIX}{number}", "account": number, "amount": str(group.face_value)}


def generate(book: ReferenceBook, group_id: str, count: int, sold: bool = False,
             now: datetime | None = None) -> Batch:
    group = book.card_group(group_id)
    if group is None:
        raise CardRefused(f'card group "{group_id}" does not exist')
    if count < 1:
        raise CardRefused("count: a batch has at least one card")
    existing = book.card_count(group.id)
    if existing + count > group.most_cards:
        raise CardRefused(
            f'card group "{group.id}" may hold at most {group.most_cards} cards ({PIN_SPACE_PERCENT}% of the '
            f'{group.pin_space} PINs of {group.pin_length} digits); it has {existing}, so {count} more would pass it: '
            f'make another group, or one with longer PINs')
    now = now or datetime.now(UTC)
    numbers = _new_numbers(book, group.number_length, count)
    pins = _new_pins(group.pin_length, count)
    state = "sold" if sold else "new"
    cards = tuple(CardIn(number=number, group=group.id, pin_hash=hash_pin(pin), state=state, created=now)
                  for number, pin in zip(numbers, pins))
    accounts = tuple(AccountIn.model_validate(card_account(group, number)) for number in numbers)
    payments = tuple(p for p in (face_payment(group, number) for number in numbers) if p is not None)
    return Batch(group, cards, tuple(pins), accounts, payments)


def _new_numbers(book: ReferenceBook, length: int, count: int) -> list[str]:
    """Unique numbers of `length` digits (no leading zero: a spreadsheet would drop it), none an
    existing card's or account's."""
    low, span = 10 ** (length - 1), 9 * 10 ** (length - 1)
    chosen: set[str] = set()
    numbers: list[str] = []
    tries = 0
    while len(numbers) < count:
        tries += 1
        if tries > NUMBER_TRIES * count + 100:
            raise CardRefused(f"no free numbers of {length} digits left for {count} cards: make a group with longer numbers")
        number = str(low + secrets.randbelow(span))
        if number in chosen or book.card(number) is not None or book.account(number) is not None:
            continue
        chosen.add(number)
        numbers.append(number)
    return numbers


def _new_pins(length: int, count: int) -> list[str]:
    """Random PINs of `length` digits (leading zeros kept), unique within the batch."""
    space = 10 ** length
    chosen: set[str] = set()
    pins: list[str] = []
    while len(pins) < count:  # count <= a fifth of the space (generate checked), so this ends quickly
        pin = str(secrets.randbelow(space)).zfill(length)
        if pin not in chosen:
            chosen.add(pin)
            pins.append(pin)
    return pins


# states -------------------------------------------------------------------------------------------

def change_state(book: ReferenceBook, number: str, action: Action) -> list[CardIn | AccountIn]:
    """The records that sell, block or unblock a card: the card (and, for block and unblock, its
    account's `blocked`, which the balance guard turns into a block signal for the switches).
    - sell: a new card becomes sold; a sold one stays; a blocked one is refused (unblock it);
    - block: any card becomes blocked;
    - unblock: a blocked card becomes sold (usable again).
    Raises CardRefused for an unknown number or a change the card's state does not allow."""
    card = book.card(number)
    if card is None:
        raise CardRefused(f'card "{number}" does not exist')
    if action == "sell":
        if card.state == "blocked":
            raise CardRefused(f'card "{number}" is blocked: unblock it (which sells it) instead')
        return [card.model_copy(update={"state": "sold"})]
    if action not in ("block", "unblock"):
        raise CardRefused(f"unknown action {action!r}: sell, block or unblock")
    blocked = action == "block"
    if not blocked and card.state != "blocked":
        raise CardRefused(f'card "{number}" is not blocked (it is {card.state})')
    group = book.card_group(card.group)
    account = book.account(number)
    if account is None:  # written with its card; rebuilt if someone deleted it
        if group is None:
            raise CardRefused(f'card "{number}": its group "{card.group}" does not exist')
        account = AccountIn.model_validate(card_account(group, number))
    return [card.model_copy(update={"state": "blocked" if blocked else "sold"}),
            account.model_copy(update={"blocked": blocked})]


def shown_state(group: CardGroupIn | None, card: CardIn, first_use: datetime | None,
                now: datetime | None = None) -> str:
    """The state a card has now: its stored one, or `expired` once its group's expiry has passed
    (a blocked card stays blocked)."""
    if card.state == "blocked" or group is None:
        return card.state
    ends = expires_at(group, card, first_use)
    if ends is not None and ends <= (now or datetime.now(UTC)):
        return "expired"
    return card.state


def card_row(book: ReferenceBook, card: CardIn, balance: Decimal, first_use: datetime | None = None) -> dict:
    """What a listing shows of a card: never its PIN nor its hash."""
    group = book.card_group(card.group)
    return {"number": card.number, "group": card.group, "state": shown_state(group, card, first_use),
            "balance": str(balance), "currency": group.currency if group else ""}
