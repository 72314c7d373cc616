"""Calling cards at authorization, pure: which card is calling, whether its PIN is right, whether it
may call at all; and what its use costs beside its calls (the setup fee, the daily charge).

A card calls through its own prepaid account (id = its number; pipeline/cards/records.py), so once
the card is accepted the decision is an ordinary one. What is a card's own lives in `CardUse`, one
state record per card in the authorizer's store (key `card:NUMBER`): wrong PINs (three in ten
minutes lock the card for an hour), first and last use, and which fees were charged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

import orjson

from pipeline.authorize.request import Answer, AuthorizeRequest, refusal
from pipeline.schemas.cards import expires_at, pin_matches

WRONG_PINS, WRONG_PIN_WINDOW_MS, LOCK_MS = 3, 600_000, 3_600_000
KEY_PREFIX = b"card:"
NO_PIN_MOR_CODE = 227  # MOR's cause when the caller gave no PIN at all


@dataclass
class CardUse:
    failures: list[int] = field(default_factory=list)  # ms of wrong PINs within the window
    locked_until: int = 0
    first_use: int | None = None  # ms of the first answered call
    last_use: int | None = None
    setup_charged: bool = False
    daily_through: str = ""  # YYYYMMDD: the last day whose daily charge was taken

    def to_json(self) -> bytes:
        return orjson.dumps(self.__dict__)

    @classmethod
    def from_json(cls, raw: bytes | None) -> CardUse:
        return cls(**orjson.loads(raw)) if raw else cls()


@dataclass(frozen=True)
class CardCheck:
    number: str | None  # the card's account, when the card may call
    refused: Answer | None
    use: CardUse | None  # changed: to be written


def card_of(request: AuthorizeRequest, book) -> tuple[str, bool] | None:
    """(card number, whether its PIN must be checked), or None when the call is not a card's."""
    if request.card:
        return request.card, True
    if not request.account and request.src and hasattr(book, "card_by_caller_id"):
        card = book.card_by_caller_id(request.src)  # a caller id bound to the card: no PIN
        if card is not None:
            return card.number, False
    return None


def check(request: AuthorizeRequest, book, number: str, pin_needed: bool, use: CardUse, now_ms: int) -> CardCheck:
    card = book.card(number)
    group = book.card_group(card.group) if card is not None else None
    if card is None or group is None:
        return CardCheck(None, refusal("unknown_account", number, f"no card {number!r}"), None)
    if use.locked_until > now_ms:
        minutes = -(-(use.locked_until - now_ms) // 60_000)
        return CardCheck(None, refusal("blocked", number, f"card {number} is locked for {minutes} more minute(s) "
                                                          f"after {WRONG_PINS} wrong PINs"), None)
    if pin_needed and not request.pin:
        answer = refusal("bad_pin", number, "no PIN given")
        return CardCheck(None, Answer(**{**answer.__dict__, "mor_override": NO_PIN_MOR_CODE}), None)
    if pin_needed and not pin_matches(request.pin, card.pin_hash):
        failures = [t for t in use.failures if t > now_ms - WRONG_PIN_WINDOW_MS] + [now_ms]
        locked = now_ms + LOCK_MS if len(failures) >= WRONG_PINS else use.locked_until
        changed = CardUse(**{**use.__dict__, "failures": [] if locked > now_ms else failures, "locked_until": locked})
        detail = "wrong PIN" + (f"; card locked for an hour after {WRONG_PINS} wrong PINs" if locked > now_ms else "")
        return CardCheck(None, refusal("bad_pin", number, detail), changed)
    if card.state != "sold":
        why = "not sold yet" if card.state == "new" else "blocked"
        return CardCheck(None, refusal("blocked", number, f"card {number} is {why}"), None)
    first = None if use.first_use is None else datetime.fromtimestamp(use.first_use / 1000, timezone.utc)
    ends = expires_at(group, card, first)
    if ends is not None and ends.timestamp() * 1000 <= now_ms:
        return CardCheck(None, refusal("card_expired", number, f"card {number} expired at {ends.isoformat()}"), None)
    changed = CardUse(**{**use.__dict__, "failures": []}) if use.failures else None
    return CardCheck(number, None, changed)


def used(use: CardUse, group, now_ms: int) -> tuple[CardUse, list[tuple[str, Decimal]]]:
    """An answered call of the card was rated: first and last use, and the setup fee once.
    Returns the new use and the fees to charge, as (adjustment id suffix, amount)."""
    fees = []
    first = use.first_use if use.first_use is not None else now_ms
    setup = use.setup_charged
    if not setup and group.setup_fee > 0:
        fees.append(("setup", group.setup_fee))
        setup = True
    return CardUse(use.failures, use.locked_until, first, now_ms, setup, use.daily_through), fees


def daily_charges(use: CardUse, group, balance: Decimal, now_ms: int) -> tuple[CardUse, list[tuple[str, Decimal]]]:
    """The daily charge of each day from the first use to today not yet charged, while the balance
    lasts (never below zero: the last one takes what is left)."""
    if use.first_use is None or group.daily_charge <= 0:
        return use, []
    today = datetime.fromtimestamp(now_ms / 1000, timezone.utc).date()
    day = datetime.fromtimestamp(use.first_use / 1000, timezone.utc).date()
    fees, through, left = [], use.daily_through, balance
    while day <= today:
        stamp = day.strftime("%Y%m%d")
        if stamp > through:
            if left <= 0:
                break
            amount = min(group.daily_charge, left)
            fees.append((f"daily:{stamp}", amount))
            left -= amount
            through = stamp
        day = day.fromordinal(day.toordinal() + 1)
    if not fees:
        return use, []
    return CardUse(use.failures, use.locked_until, use.first_use, use.last_use, use.setup_charged, through), fees
