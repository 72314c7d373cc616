"""Limits on what a write may say (OWASP API4), checked where every write is checked
(ownership.check_one, for `ref apply` and the API alike), not in the record models.

The models also read what is already stored on the reference topics, and a record refused there is
dropped from the book (its calls would be rejected), so a limit added today must not apply to
records written before it: an account named by a 50 MB string keeps rating until someone renames
it. Here the book is at hand, so a write can be told from a create:
- a new record's id follows the id rule (limits.NEW_ID_PATTERN); an existing one keeps its id;
- a field naming another record (parent, tariff, owner...) is short, or names a record that exists;
- every other text (a name, a server) is at most MAX_NAME_LENGTH characters (a webhook URL
  MAX_URL_LENGTH), and a server that changes follows the id rule, since switches are addressed by it.
"""
from __future__ import annotations

import re

from pipeline.reference.graph import Record, RefGraph
from pipeline.schemas import limits
from pipeline.schemas.reference import DidIn, HolidaysIn

NEW_ID = re.compile(limits.NEW_ID_PATTERN.removesuffix("$") + r"\Z")  # $ would let a final newline in
ID_RULE = (f'1-{limits.MAX_ID_LENGTH} ASCII letters, digits, ".", "_" or "-", starting with a letter or digit')
# fields naming another record, and the kind of record they name
REFERENCES = {"parent": "account", "owner": "account", "tariff": "tariff", "reseller": "account", "user": "account"}
# texts allowed to be longer than a name
LONG_TEXTS = {"webhook": limits.MAX_URL_LENGTH, "address": limits.MAX_ADDRESS_LENGTH}
ECHO_CHARS = 40


def write_rule(graph: RefGraph, record: Record, old: Record | None) -> str | None:
    """The limit `record` breaks, or None; `old` is the record of that id before the write."""
    if isinstance(record, HolidaysIn):
        return None
    where = f'{record.kind} "{_shown(record.id)}"'
    if old is None:
        rule = _new_id_rule(record)
        if rule is not None:
            return f"{where}: {rule}"
    for field, value in record:
        if field in ("id", "number") or not isinstance(value, str):
            continue
        rule = _text_rule(graph, field, value, getattr(old, field, None))
        if rule is not None:
            return f"{where}: {field}: {rule}"
    return None


def _new_id_rule(record: Record) -> str | None:
    if isinstance(record, DidIn):  # its digits-only rule is the model's
        if len(record.number) > limits.MAX_DID_DIGITS:
            return f"number: a new DID has at most {limits.MAX_DID_DIGITS} digits (got {len(record.number)})"
        return None
    if NEW_ID.match(record.id) is None:
        return f'id: a new {record.kind} id is {ID_RULE} (got "{_shown(record.id)}")'
    return None


def _text_rule(graph: RefGraph, field: str, value: str, old_value: object) -> str | None:
    if field in REFERENCES:
        if len(value) > limits.MAX_REFERENCE_LENGTH and graph.record(REFERENCES[field], value) is None:
            return f"names no record and is longer than {limits.MAX_REFERENCE_LENGTH} characters ({len(value)})"
        return None
    if field == "server" and value != old_value and NEW_ID.match(value) is None:
        return f'a server name is {ID_RULE} (got "{_shown(value)}")'
    limit = LONG_TEXTS.get(field, limits.MAX_NAME_LENGTH)
    if len(value) > limit:
        return f"at most {limit} characters (got {len(value)})"
    return None


def _shown(text: str) -> str:
    """The id as an error repeats it: cut, and with invisible characters made visible."""
    cut = text if len(text) <= ECHO_CHARS else f"{text[:ECHO_CHARS]}... ({len(text)} characters)"
    return cut.encode("ascii", "backslashreplace").decode()
