"""Ledger: debits idempotent by origin position, state survives JSON. (Payment ids are kept by the
balance stage beside the ledger: tests/runtime/test_money_stages.py.)"""
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pipeline.balances.ledger import Ledger


def test_debit_is_applied_once_per_origin_position():
    ledger = Ledger()
    assert ledger.debit(0, 10, Decimal("2")) is True
    assert ledger.debit(0, 10, Decimal("2")) is False
    assert ledger.debit(0, 9, Decimal("2")) is False  # an older position: a replay
    assert ledger.debit(1, 9, Decimal("1.2")) is True  # another partition has its own watermark
    assert (ledger.balance, ledger.seq) == (Decimal("-3.2"), 2)


def test_a_credit_adds_and_moves_seq():
    ledger = Ledger()
    ledger.credit(Decimal("10"))
    ledger.credit(Decimal("0.5"))
    assert (ledger.balance, ledger.seq) == (Decimal("10.5"), 2)


def test_a_debit_that_cannot_be_computed_leaves_the_ledger_untouched():
    ledger = Ledger(balance=Decimal("9E+999999"))
    try:
        ledger.debit(0, 5, Decimal("-9E+999999"))
    except ArithmeticError:
        pass
    assert ledger.watermarks == {} and ledger.seq == 0  # the debit can be tried again, not skipped


def test_json_round_trip_keeps_balance_seq_and_what_was_applied():
    ledger = Ledger()
    ledger.debit(3, 1207, Decimal("0.000001"))
    ledger.credit(Decimal("50"))
    again = Ledger.from_json(ledger.to_json())
    assert again == ledger
    assert again.debit(3, 1207, Decimal(1)) is False


def test_a_ledger_written_with_payment_ids_still_reads():
    old = b'{"balance": "5", "seq": 3, "watermarks": {"0": 7}, "payments": ["a", "b"]}'
    assert Ledger.from_json(old) == Ledger(Decimal(5), 3, {0: 7})


def test_no_stored_value_is_a_fresh_ledger():
    assert Ledger.from_json(None) == Ledger.from_json(b"") == Ledger()


amounts = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("1000"), places=6)
# per origin partition the debits of one account arrive in offset order (ledger.py)
debit_streams = st.dictionaries(st.integers(0, 3), st.lists(st.tuples(st.integers(1, 5), amounts), max_size=8),
                                max_size=4)
payments = st.dictionaries(st.text(min_size=1, max_size=4), st.decimals(min_value=-500, max_value=500, places=2)
                           .filter(lambda d: d != 0), max_size=6)


@given(streams=debit_streams, paid=payments, data=st.data())
def test_any_replay_and_duplication_gives_the_balance_of_each_once(streams, paid, data):
    distinct = []
    for partition, steps in streams.items():
        offset = -1
        for gap, amount in steps:
            offset += gap
            distinct.append(("debit", partition, offset, amount))
    distinct += [("credit", pid, None, amount) for pid, amount in paid.items()]  # once each: ids are the stage's
    # an arrival order that keeps each partition's offsets rising, then replays mixed in anywhere later
    order = _merge_keeping_partition_order(data.draw(st.permutations(distinct)))
    delivered = []
    for position, entry in enumerate(order):
        delivered.append(entry)
        debits = [e for e in order[:position + 1] if e[0] == "debit"]
        if debits:
            delivered += data.draw(st.lists(st.sampled_from(debits), max_size=3))
    ledger = Ledger()
    for n, (kind, ident, offset, amount) in enumerate(delivered):
        if kind == "debit":
            ledger.debit(ident, offset, amount)
        else:
            ledger.credit(amount)
        if n % 3 == 0:  # the table stores it as JSON between batches
            ledger = Ledger.from_json(ledger.to_json())
    expected = sum((a for k, _, _, a in distinct if k == "credit"), Decimal(0)) \
        - sum((a for k, _, _, a in distinct if k == "debit"), Decimal(0))
    assert ledger.balance == expected
    assert ledger.seq == len(distinct)


def _merge_keeping_partition_order(order):
    """The shuffled entries, with each partition's debits put back in offset order in their slots."""
    by_partition = {}
    for kind, ident, offset, amount in order:
        if kind == "debit":
            by_partition.setdefault(ident, []).append((kind, ident, offset, amount))
    for entries in by_partition.values():
        entries.sort(key=lambda e: e[2])
    merged = []
    for entry in order:
        merged.append(by_partition[entry[1]].pop(0) if entry[0] == "debit" else entry)
    return merged
