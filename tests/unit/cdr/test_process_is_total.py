"""process_cdr is total and deterministic: any bytes give exactly one Output; the same bytes, the same Output."""
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devkit.sample_cdrs import bad_messages
from pipeline.cdr.process import REJECT_REASONS, Output, process_cdr
from tests.unit.cdr.sample_book import RATED_AT, SOURCE, sample_book, seed_cdr

BOOK = sample_book()  # module-level: hypothesis runs many examples per test
CALLERS = ["u1", "u2", "u3", "d1", "r1", "nobody"]


def check_one_output(out) -> None:
    assert isinstance(out, Output)
    if out.rated:
        assert out.reason == "" and out.key and out.key.count(b"/") >= 1
    else:
        body = orjson.loads(out.value)
        assert out.reason in REJECT_REASONS and body["reason"] == out.reason


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200), st.none(),
                 st.binary(max_size=60).map(lambda b: b"{" + b), st.binary(max_size=60).map(lambda b: b"\x00" + b)))
def test_arbitrary_bytes_never_raise_and_give_one_output(payload):
    check_one_output(process_cdr(b"k", payload, SOURCE, BOOK, RATED_AT))


# orjson (the test's encoder) writes 64-bit integers only; the big ones have their own test
json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.text(max_size=10),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=6)


@settings(max_examples=300)
@given(account=st.sampled_from(CALLERS), dst=st.text(max_size=15), billsec=st.integers(-5, 10**6),
       start=st.one_of(st.integers(0, 4 * 10**9), st.text(max_size=25)),
       extra=st.dictionaries(st.sampled_from(["userfield", "provider", "did", "disposition", "src"]), json_values))
def test_arbitrary_cdr_shaped_objects_never_raise(account, dst, billsec, start, extra):
    cdr = {**seed_cdr(account=account, dst=dst, billsec=billsec, start_time=start), **extra}
    out = process_cdr(b"k", orjson.dumps(cdr), SOURCE, BOOK, RATED_AT)
    check_one_output(out)
    assert out.reason != "internal_error", out.value


def test_same_message_twice_gives_the_same_bytes():
    messages = [orjson.dumps(seed_cdr()), orjson.dumps(seed_cdr(account="d1", dst="37061234567"))]
    messages += [payload for _, payload in bad_messages("r")]
    for payload in messages:
        first = process_cdr(b"k", payload, SOURCE, BOOK, RATED_AT)
        again = process_cdr(b"k", payload, SOURCE, sample_book(), RATED_AT)  # even with a fresh book
        assert first == again


def test_unknown_field_with_a_big_integer_does_not_stop_the_call_being_rated():
    payload = orjson.dumps(seed_cdr())[:-1] + b',"userfield":18446744073709551616}'
    out = process_cdr(b"k", payload, SOURCE, BOOK, RATED_AT)
    assert out.rated, out.value
