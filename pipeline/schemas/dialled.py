"""What was dialled: a phone number, or a code that only an explicit rate prices (README "Destinations
that are not numbers").

- A **number** is what is left of the dialled string once a leading `+` and the separators people
  and switches write inside numbers (spaces, `-`, `.`, `(`, `)`) are dropped, when only the ASCII
  digits 0-9 are left: `+370 (612) 345-67` is the number 37061234567, as it always was. A leading
  `00` stays as dialled (tariffs that want it write prefixes with it).
- Anything else is a **code**, kept as dialled (trimmed): a feature code `*72*1234`, `#21#`, a SIP
  user that is a name (`alice`), Asterisk's `s`. Its digits are not a phone number, so it is never
  priced by a number prefix, only by a rate whose prefix is a code (`*72*`: with a `*` or `#`,
  longest match on the code as dialled) or an exact code (`#21#$`, `alice$`: the whole code).
- A number of fewer than MIN_NUMBER_DIGITS digits (an IVR choice, a menu key) is not a phone number
  either: `1` must not be priced as a call to country code 1. Only an exact rate (`1$`) prices it.
Neither is ever dropped: without such a rate the call is rejected `not_a_number` (replayable once
the rate exists).
"""
from __future__ import annotations

import re

MIN_NUMBER_DIGITS = 3  # "112" and "911" are numbers; "1" and "12" are menu keys
MAX_DIALLED_LENGTH = 256  # as written: a SIP URI user, a number with separators; more is not dialling
EXACT = "$"  # ends a rate prefix that matches the whole dialled code, not its beginning
_SEPARATORS = re.compile(r"[ \t\-.()]")
# what a code rate's prefix may hold: what feature codes and SIP user names are made of
CODE_CHARACTERS = re.compile(r"[0-9A-Za-z*#._-]+\Z")
# a code prefix needs `*` or `#`: a letter alone could be a typo in a deck ("37O"), which must stay
# an error rather than become a rate nobody dials; names are priced by exact codes ("alice$")
_CODE_MARK = re.compile(r"[*#]")


def dialled(value: str) -> str:
    """The destination as rated: a number's digits, or the code as dialled (trimmed). Raises
    ValueError for a string with nothing in it."""
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    if len(text) > MAX_DIALLED_LENGTH:
        raise ValueError(f"must be at most {MAX_DIALLED_LENGTH} characters (got {len(text)})")
    digits = _SEPARATORS.sub("", text).removeprefix("+")
    if digits.isascii() and digits.isdigit():
        return digits
    if not digits:
        raise ValueError(f"has no digits nor code characters, only separators (got {text[:40]!r})")
    return text


def is_number(dst: str) -> bool:
    """Whether a destination as `dialled` gave it is a phone number a number prefix may price."""
    return len(dst) >= MIN_NUMBER_DIGITS and dst.isascii() and dst.isdigit()


def code_key(dst: str) -> str:
    """The string a code's rate lookup walks: the code and the exact mark, so that a prefix `*72*`
    matches `*72*1234$` by its beginning and an exact rate `#21#$` only the whole `#21#$`. A code
    that itself holds the mark matches no exact rate (its mark is dropped)."""
    return dst.replace(EXACT, "") + EXACT


def prefix_kind(prefix: str) -> str | None:
    """"number", "code" or "exact" for a well-formed rate prefix, None otherwise (the rule is
    field_rules.prefix, which says why)."""
    if prefix.isascii() and (prefix == "" or prefix.isdigit()):
        return "number"
    body = prefix.removesuffix(EXACT)
    if EXACT in body or not body or CODE_CHARACTERS.match(body) is None:
        return None
    if prefix.endswith(EXACT):
        if body.isdigit():
            return "exact" if len(body) < MIN_NUMBER_DIGITS else None
        return "code"
    return "code" if _CODE_MARK.search(body) else None
