"""rows_from_payloads: a bad payload is reported with its position, the good ones still become rows."""
from __future__ import annotations

from pipeline.sinks.batch import rows_from_payloads
from tests.unit.sinks.rated_example import example_payload as payload


def test_bad_payloads_are_refused_with_their_position_and_the_rest_kept():
    good = payload(call_id="a")
    too_precise = payload(call_id="b", user_price="0.1234567")
    rows, refused = rows_from_payloads([
        (("cdr.rated", 0, 10), good),
        (("cdr.rated", 0, 11), b"\x01not avro"),
        (("cdr.rated", 3, 12), too_precise),
    ])
    assert [row[1] for row in rows] == ["a"]
    assert [bad.position for bad in refused] == [("cdr.rated", 0, 11), ("cdr.rated", 3, 12)]
    assert "user_price" in refused[1].error


def test_a_call_delivered_twice_in_one_batch_is_one_row():
    rows, refused = rows_from_payloads([(1, payload()), (2, payload())])
    assert len(rows) == 1 and not refused
