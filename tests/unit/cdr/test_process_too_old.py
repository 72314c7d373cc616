"""A CDR that started before the dedup window is rejected `too_old`, unless replayed with the override."""
from datetime import datetime, timezone

import orjson

from pipeline.cdr.process import REJECT_REASONS, process_cdr
from tests.unit.cdr.sample_book import RATED_AT, SOURCE, seed_cdr

LIMIT = datetime(2026, 9, 24, tzinfo=timezone.utc)  # the stage passes now - RATING_DEDUP_DAYS


def run(book, start: str, **options):
    return process_cdr(b"k", orjson.dumps(seed_cdr(start_time=start)), SOURCE, book, RATED_AT,
                       oldest_start=LIMIT, **options)


def test_a_cdr_older_than_the_window_is_too_old_and_names_start_and_limit(book):
    out = run(book, "2026-09-23T23:59:59Z")
    body = orjson.loads(out.value)
    assert (out.rated, out.reason) == (False, "too_old") and "too_old" in REJECT_REASONS
    assert "2026-09-23T23:59:59Z" in body["detail"] and "2026-09-24T00:00:00Z" in body["detail"]


def test_the_limit_itself_and_later_are_rated(book):
    assert run(book, "2026-09-24T00:00:00Z").rated and run(book, "2026-11-25T10:00:00Z").rated


def test_the_override_rates_an_old_cdr(book):
    assert run(book, "2026-01-01T00:00:00Z", allow_old=True).rated


def test_without_a_limit_nothing_is_too_old(book):
    out = process_cdr(b"k", orjson.dumps(seed_cdr(start_time="1999-01-01T00:00:00Z")), SOURCE, book, RATED_AT)
    assert out.reason != "too_old"
