"""A calling card's dial string, pure: what a caller dials to the access number, in the Request-URI user.

    *CARD*PIN#DESTINATION    a card by its number and PIN    *5550001234*4321#37060000000
    *CARD#DESTINATION        a card without its PIN: the API refuses it (bad_pin, MOR code 227)
    #DESTINATION             a card bound to the caller id (the From user), PIN-less

Digits only, with bounded lengths: CARD 6-20 digits (a card number's lengths), PIN 4-8 (a group's
PIN lengths), DESTINATION 1-32. In a SIP URI `#` must be escaped: phones send `%23` (and some `%2A`
for `*`); both spellings are read. Anything else is a `DialError` saying what is wrong (kamailio.cfg
answers it with 484 Address Incomplete, without asking billing).

The PIN must never reach a CDR or a log: `masked` writes a dial string with its PIN hidden, and
`mask_pins` hides every PIN of a dial string inside any text (e.g. a frame that is logged).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CARD_LENGTHS = (6, 20)
PIN_LENGTHS = (4, 8)
DESTINATION_LENGTHS = (1, 32)
MAX_DIAL = 2 + CARD_LENGTHS[1] + PIN_LENGTHS[1] + 1 + DESTINATION_LENGTHS[1]  # once unescaped
PIN_MASK = "xxxx"
# the escapes a phone may use for the two marks; nothing else is unescaped
_ESCAPES = re.compile(r"%(23|2a)", re.IGNORECASE)
_MARKS = {"23": "#", "2a": "*"}
_PIN_IN_TEXT = re.compile(r"((?:\*|%2a)[0-9]{1,64}(?:\*|%2a))[0-9A-Za-z]+(?=#|%23)", re.IGNORECASE)


class DialError(ValueError):
    """Not a card dial string that can be called, and why (for the log and the SIP refusal)."""


@dataclass(frozen=True, slots=True)
class CardDial:
    card: str  # "" when the caller id names the card (#DESTINATION)
    pin: str  # "" when no PIN was dialled
    destination: str

    @property
    def masked(self) -> str:
        """The dial string as it may be logged: its PIN hidden."""
        if not self.card:
            return f"#{self.destination}"
        return f"*{self.card}*{PIN_MASK}#{self.destination}" if self.pin else f"*{self.card}#{self.destination}"

    def __repr__(self) -> str:  # never the PIN, even in a traceback or a debug log
        return f"CardDial(card={self.card!r}, pin={'<hidden>' if self.pin else ''!r}, destination={self.destination!r})"


def is_card_dial(user: str) -> bool:
    """Whether a Request-URI user is a card call (it starts with `*` or `#`, or their escapes)."""
    head = user[:3].lower()
    return user[:1] in ("*", "#") or head in ("%23", "%2a")


def parse_card_dial(user: str) -> CardDial:
    """CARD, PIN and DESTINATION out of a Request-URI user, or DialError."""
    if not isinstance(user, str):
        raise DialError("the dial string must be text")
    if len(user) > 3 * MAX_DIAL:
        raise DialError(f"the dial string is longer than {MAX_DIAL} characters")
    text = _ESCAPES.sub(lambda m: _MARKS[m.group(1).lower()], user)
    if len(text) > MAX_DIAL:
        raise DialError(f"the dial string is longer than {MAX_DIAL} characters")
    if not text or text[0] not in "*#":
        raise DialError("a card call starts with * (card number) or # (the caller id's card)")
    head, hash_mark, destination = text.partition("#")
    if not hash_mark:
        raise DialError("no # before the destination (*CARD*PIN#DESTINATION)")
    _digits(destination, "the destination", DESTINATION_LENGTHS)
    if head == "":
        return CardDial("", "", destination)
    parts = head[1:].split("*")
    if len(parts) > 2:
        raise DialError("too many * (*CARD*PIN#DESTINATION)")
    card = parts[0]
    pin = parts[1] if len(parts) == 2 else ""
    _digits(card, "the card number", CARD_LENGTHS)
    if len(parts) == 2:
        _digits(pin, "the PIN", PIN_LENGTHS)
    return CardDial(card, pin, destination)


def mask_pins(text: str) -> str:
    """`text` with the PIN of any *CARD*PIN#... inside it hidden."""
    return _PIN_IN_TEXT.sub(lambda m: m.group(1) + PIN_MASK, text)


def _digits(value: str, what: str, lengths: tuple[int, int]) -> None:
    low, high = lengths
    if not value:
        raise DialError(f"{what} is missing")
    if not (value.isascii() and value.isdigit()):
        raise DialError(f"{what} must be digits only")
    if not low <= len(value) <= high:
        raise DialError(f"{what} must have {low}-{high} digits (got {len(value)})")
