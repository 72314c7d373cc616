from __future__ import annotations

import orjson

from pipeline.adapters import ADAPTERS, Skipped, SwitchContext
from pipeline.adapters.convert import convert_record
from pipeline.cdr.process import Source

CONTEXT = SwitchContext("ast1")
SOURCE = Source("file:/var/log/asterisk/cdr-csv/Master.csv", 0, 1234)


def test_cdr_is_keyed_by_server_call_id_and_segment(fixture_lines):
    output = convert_record(ADAPTERS["asterisk_csv"], CONTEXT, fixture_lines("asterisk/Master.csv")[0].encode(), SOURCE)
    segment = orjson.loads(output.value)["segment"]  # no sequence column: made from dstchannel and times
    assert output.rated and output.key == f"ast1/1795953600.1/{segment}".encode()
    assert orjson.loads(output.value)["account"] == "u1"


def test_bad_record_is_a_rejection_naming_the_adapter_field_and_position(fixture_lines):
    payload = fixture_lines("asterisk/bad.csv")[1].encode()
    output = convert_record(ADAPTERS["asterisk_csv"], CONTEXT, payload, SOURCE, key=b"k")
    assert not output.rated and output.key == b"k"
    body = orjson.loads(output.value)
    assert body["reason"] == "adapter"
    assert body["detail"].startswith("asterisk_csv: accountcode: no account and no device to find it by: "
                                      "accountcode is empty and channel 'DAHDI/1-1'")
    assert (body["topic"], body["partition"], body["offset"]) == (SOURCE.topic, 0, 1234)
    assert body["payload"] == payload.decode()


def test_an_adapter_bug_is_a_rejection_not_a_crash(monkeypatch):
    from pipeline.adapters import Adapter

    def broken(payload, context):
        raise KeyError("surprise")

    output = convert_record(Adapter("broken", broken), CONTEXT, b"\xff\x00", SOURCE)
    body = orjson.loads(output.value)
    assert not output.rated and body["detail"].startswith("broken: record: internal error KeyError")
    assert body["payload_encoding"] == "base64"


def test_a_skipped_record_is_no_message_and_a_segment_is_part_of_the_key(fixture_lines, fixtures_dir):
    b_leg = orjson.loads((fixtures_dir / "freeswitch" / "a_3f0d8c1e-6b1f-4c9e-8f6b-0a1b2c3d4e01.cdr.json").read_bytes())
    b_leg["callflow"][0]["caller_profile"]["originator"] = {"originator_caller_profiles": []}
    assert isinstance(convert_record(ADAPTERS["freeswitch"], CONTEXT, orjson.dumps(b_leg), SOURCE), Skipped)
    output = convert_record(ADAPTERS["asterisk_csv"], CONTEXT, fixture_lines("asterisk/Master.csv")[3].encode(), SOURCE)
    assert output.key == b"ast1/1795954200.7/12"  # newcdrcolumns' sequence 12
