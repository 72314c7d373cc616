"""A pydantic ValidationError as one line naming every field, the rule and the input (cut short):
how every command, the API and the stages word a record they refuse."""
from __future__ import annotations

from pydantic import ValidationError

MAX_ECHO_CHARS = 80  # of an offending input repeated in a detail: pydantic would echo it whole
MAX_DETAIL_FIELDS = 20  # fields named in one detail; the rest are counted


def describe_validation_error(exc: ValidationError) -> str:
    """`billsec: must be >= 0 (got -5); account: Field required` — every field, one line. Inputs
    are echoed cut to MAX_ECHO_CHARS, so a detail stays small whatever the input."""
    parts = []
    errors = exc.errors(include_url=False)
    for error in errors[:MAX_DETAIL_FIELDS]:
        field = cut(".".join(str(p) for p in error["loc"]) or "(record)")
        message = cut(error["msg"].removeprefix("Value error, "), 4 * MAX_ECHO_CHARS)
        got = f" (got {cut(repr(error['input']))})" if error["type"] != "missing" and "(got " not in message else ""
        parts.append(f"{field}: {message}{got}")
    if len(errors) > MAX_DETAIL_FIELDS:
        parts.append(f"and {len(errors) - MAX_DETAIL_FIELDS} more")
    return "; ".join(parts)


def cut(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
