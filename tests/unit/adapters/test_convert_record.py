from __future__ import annotations

import orjson

from pipeline.adapters import ADAPTERS, SwitchContext
from pipeline.adapters.convert import convert_record
from pipeline.cdr.process import Source

CONTEXT = SwitchContext("ast1")
SOURCE = Source("file:/var/log/asterisk/cdr-csv/Master.csv", 0, 1234)


def test_cdr_is_keyed_by_server_and_call_id(fixture_lines):
    output = convert_record(ADAPTERS["asterisk_csv"], CONTEXT, fixture_lines("asterisk/Master.csv")[0].encode(), SOURCE)
    assert output.rated and output.key == b"ast1/1795953600.1"
    assert orjson.loads(output.value)["account"] == "u1"


def test_bad_record_is_a_rejection_naming_the_adapter_field_and_position(fixture_lines):
    payload = fixture_lines("asterisk/bad.csv")[1].encode()
    output = convert_record(ADAPTERS["asterisk_csv"], CONTEXT, payload, SOURCE, key=b"k")
    assert not output.rated and output.key == b"k"
    body = orjson.loads(output.value)
    assert body["reason"] == "adapter"
    assert body["detail"] == "asterisk_csv: accountcode: missing or empty"
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
