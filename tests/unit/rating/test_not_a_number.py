"""Destinations that are not numbers (pipeline/schemas/dialled.py): a feature code, a name or a
menu key is priced only by a code rate or an exact rate, never by the number its digits spell, and
is rejected `not_a_number` otherwise. Fuzzed against a plain model with hypothesis."""
from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.cdr.process import process_cdr
from pipeline.rating.chain import rate_call
from pipeline.rating.rated_call import CallToRate, NotRated, RatedCall
from pipeline.reference.book import ReferenceBook
from pipeline.reference.records import parse_reference_record
from pipeline.schemas import field_rules
from pipeline.schemas.dialled import MIN_NUMBER_DIGITS, code_key, dialled, is_number, prefix_kind
from tests.unit.cdr.sample_book import RATED_AT, SOURCE, sample_book, seed_cdr

START = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
NUMBER_PREFIXES = ("", "1", "7", "72", "370", "3706", "44")
CODE_PREFIXES = ("*72*", "*7", "*", "#21#$", "#21#", "*72*12$", "1$", "12$", "7$", "alice$", "a*")
code_text = st.text(st.sampled_from("0123456789*#abAB."), min_size=1, max_size=12)


@pytest.fixture(scope="module")
def book():
    return sample_book()


def book_with(prefixes) -> ReferenceBook:
    book = ReferenceBook()
    rates = [{"prefix": p, "rate": str(n + 1)} for n, p in enumerate(prefixes)]
    for obj in ({"kind": "tariff", "id": "t", "rates": rates}, {"kind": "account", "id": "u", "type": "user",
                                                                   "tariff": "t"}):
        book.apply(parse_reference_record(obj))
    return book


def model_prefix(prefixes, dst: str) -> str | None:
    """The rate that prices `dst`: longest number prefix for a number; for anything else the longest
    code or exact prefix that starts its code key (the code and "$")."""
    if is_number(dst):
        found = [p for p in prefixes if prefix_kind(p) == "number" and dst.startswith(p)]
    else:
        found = [p for p in prefixes if prefix_kind(p) != "number" and code_key(dst).startswith(p)]
    return max(found, key=len) if found else None


def priced(book, dst: str, billsec: int = 60):
    return rate_call(CallToRate("s", "c", "u", dst, START, billsec, True, None), book)


@settings(max_examples=300, deadline=None)
@given(st.sets(st.sampled_from(NUMBER_PREFIXES + CODE_PREFIXES), min_size=1),
       st.one_of(code_text, st.text(st.sampled_from("0123456789"), min_size=1, max_size=6)))
def test_the_engine_prices_as_the_model_and_never_a_code_by_its_digits(prefixes, raw):
    try:
        dst = dialled(raw)
    except ValueError:
        return
    got, want = priced(book_with(sorted(prefixes)), dst), model_prefix(prefixes, dst)
    if want is None:
        reason = "no_rate" if is_number(dst) else "not_a_number"
        assert isinstance(got, NotRated) and got.reason == reason, (dst, got)
    else:
        assert isinstance(got, RatedCall) and got.user.prefix == want, (dst, prefixes, got)
        if not is_number(dst):
            assert prefix_kind(want) in ("code", "exact")  # never "", never a number prefix


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("0123456789 -.()"), max_size=20), st.booleans())
def test_a_written_number_is_its_digits(text, plus):
    raw = ("+" if plus else "") + text
    digits = "".join(c for c in raw if c.isdigit())
    if not digits:
        with pytest.raises(ValueError):
            dialled(raw)
        return
    assert dialled(raw) == digits


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_anything_else_is_kept_as_dialled_and_every_prefix_is_judged_without_a_crash(text):
    try:
        dst = dialled(text)
    except ValueError:
        return
    assert dst == text.strip() or dst.isdigit()
    try:
        field_rules.prefix(text)
    except ValueError:
        pass
    else:
        assert prefix_kind(text) is not None


@pytest.mark.parametrize("dst, rates, prefix", [
    ("*72*1234*8584", ("*72*", "7", ""), "*72*"),
    ("#21#", ("#21#$", "#21", "2"), "#21#$"),
    ("1", ("1", "1$"), "1$"),
    ("12", ("1", "12$"), "12$"),
    ("112", ("1", "11$"), "1"),  # three digits is a number: 112, 911
    ("+1 (555) 010-9999", ("1", "1$"), "1"),
])
def test_examples(dst, rates, prefix):
    rated = priced(book_with(rates), dialled(dst))
    assert isinstance(rated, RatedCall) and rated.user.prefix == prefix


@pytest.mark.parametrize("dst, needle", [("*72*1234", 'dst "*72*1234" is not a number'),
                                         ("1", "fewer than 3 digits"), ("alice", 'the exact "alice$"')])
def test_without_an_explicit_rate_it_is_rejected_not_a_number_naming_why(dst, needle):
    got = priced(book_with(("", "1", "7")), dialled(dst))
    assert isinstance(got, NotRated) and got.reason == "not_a_number" and needle in got.detail


def test_an_unanswered_code_is_stored_at_zero_like_any_unanswered_call():
    got = priced(book_with(("370",)), "*72*", billsec=0)
    assert isinstance(got, RatedCall) and got.user.price == 0 and got.user.prefix == ""


def test_the_rate_stage_rejects_it_replayably_and_a_did_call_is_still_priced_by_the_did(book):
    out = process_cdr(None, orjson.dumps(seed_cdr(dst="*72*37052123456")), SOURCE, book, RATED_AT)
    body = orjson.loads(out.value)
    assert (out.rated, body["reason"]) == (False, "not_a_number")
    assert "37052123456" in body["payload"]  # the CDR as it came, for replay
    to_did = process_cdr(None, orjson.dumps(seed_cdr(dst="s", did="37052000001")), SOURCE, book, RATED_AT)
    assert to_did.rated, to_did.value


def test_prefix_rules_refuse_with_the_reason():
    with pytest.raises(ValueError, match="exact rate of digits is for destinations of fewer than 3"):
        field_rules.prefix("370$")
    with pytest.raises(ValueError, match="must be a string of digits 0-9, or a code"):
        field_rules.prefix("37O")  # a letter alone is a typo, not a code
    assert MIN_NUMBER_DIGITS == 3
