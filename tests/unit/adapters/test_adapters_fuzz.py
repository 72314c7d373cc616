"""No input makes an adapter raise; whatever it returns is an error or a CDR the pipeline accepts."""
from __future__ import annotations

import dataclasses
import json
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.adapters import (
    ADAPTERS,
    AdapterError,
    Skipped,
    SwitchContext,
    asterisk_csv,
    asterisk_json,
    freeswitch_json,
)
from pipeline.adapters.asterisk import ALIASES, CSV_LAYOUTS
from pipeline.adapters.kamailio import kamailio_acc
from pipeline.adapters.kamailio_tables import ACC_CORE, STOCK_EXTRA
from pipeline.cdr.process import Source
from pipeline.schemas.cdr import CdrIn

CONTEXT = SwitchContext("sw1", ZoneInfo("America/New_York"))  # a zone with DST gaps and folds

values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**15, max_value=10**15),
    st.floats(allow_nan=True), st.text(max_size=30),
    st.sampled_from(["", "0", "60", "-1", "1795953600", "1795953600.5", "2026-11-25 12:00:00",
                     "2026-03-08 02:30:00", "2026-11-01 01:30:00", "2026-11-25T10:00:00Z", "9999-12-31 23:59:59",
                     "370600", "ANSWERED", "u1"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
ASTERISK_FIELDS = sorted({name for layout in CSV_LAYOUTS.values() for name in layout})
FREESWITCH_FIELDS = ["uuid", "accountcode", "caller_id_number", "destination_number", "start_epoch", "answer_epoch",
                     "end_epoch", "start_stamp", "answer_stamp", "end_stamp", "duration", "billsec", "hangup_cause"]
KAMAILIO_FIELDS = ["start_time", "end_time", "duration", "callid", "account", "dst", "src_ip", "invite_ts",
                   "answer_ts", "sip_code", "sip_reason"]


def _check(result) -> None:
    if isinstance(result, AdapterError):
        assert result.field and result.rule
    elif isinstance(result, Skipped):
        assert result.reason
    else:
        cdr = CdrIn.model_validate(result)
        assert cdr.server_id == "sw1"
        assert cdr.account or cdr.device is not None or cdr.card  # a CDR always names its caller somehow
        assert isinstance(result["switch_fields"], dict)
        json.dumps(result)  # what goes on cdr.raw


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(sorted(ADAPTERS)))
def test_any_bytes(payload, name):
    _check(ADAPTERS[name].convert(payload, CONTEXT))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(ASTERISK_FIELDS), values))
def test_asterisk_json_objects(record):
    _check(asterisk_json(record, CONTEXT))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(CSV_LAYOUTS)).flatmap(
    lambda n: st.lists(st.one_of(st.text(max_size=12), values.map(lambda v: "" if v is None else str(v))),
                       min_size=n, max_size=n)))
def test_asterisk_csv_lines(columns):
    line = ",".join('"' + column.replace('"', '""') + '"' for column in columns)
    _check(asterisk_csv(line, CONTEXT))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FREESWITCH_FIELDS), values), values)
def test_freeswitch_documents(variables, callflow):
    _check(freeswitch_json({"variables": variables, "callflow": callflow}, CONTEXT))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KAMAILIO_FIELDS), values.map(lambda v: "" if v is None else str(v))))
def test_kamailio_lines(fields):
    line = "log_write_cdr(): " + "; ".join(f"{key}={value}" for key, value in fields.items())
    _check(kamailio_acc(line, CONTEXT))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**7), st.integers(min_value=0, max_value=999_999),
       st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=999_999))
def test_kamailio_billsec_is_the_rounded_talk_time(answer_s, answer_us, talk_s, talk_us):
    answer = 1_700_000_000 * 10**6 + answer_s * 10**6 + answer_us
    end = answer + talk_s * 10**6 + talk_us
    line = (f"log_write_cdr(): end_time={end // 10**6}.{end % 10**6:06d}; callid=c; account=u1; dst=370; "
            f"invite_ts=1700000000.000000; answer_ts={answer // 10**6}.{answer % 10**6:06d}; sip_code=200")
    cdr = kamailio_acc(line, CONTEXT)
    talk_us_total = talk_s * 10**6 + talk_us
    assert cdr["billsec"] == (talk_us_total + 500_000) // 10**6


AMI_NAMES = sorted({key for key in ALIASES if key != ALIASES[key]} | {"Channel", "DestinationChannel", "UniqueID",
                                                                       "AccountCode", "Disposition", "Sequence"})


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(AMI_NAMES + ASTERISK_FIELDS), values))
def test_asterisk_ami_and_odbc_names(record):
    _check(asterisk_json(record, CONTEXT))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(ASTERISK_FIELDS + ["calldate", "peerip", "x"]), min_size=1, max_size=22, unique=True)
       .flatmap(lambda names: st.tuples(st.just(tuple(names)), st.lists(
           st.one_of(st.text(max_size=12), values.map(lambda v: "" if v is None else str(v))),
           min_size=len(names) - 1, max_size=len(names) + 1))))
def test_asterisk_rows_named_by_columns(named_row):
    names, columns = named_row
    line = ",".join('"' + column.replace('"', '""') + '"' for column in columns)
    _check(asterisk_csv(line, dataclasses.replace(CONTEXT, columns=names)))


METHODS = st.sampled_from(["INVITE", "BYE", "ACK", "CANCEL", "OPTIONS", "invite", ""])
CODES = st.sampled_from(["200", "202", "183", "401", "407", "486", "487", "603", "2x0", ""])
TIMES = st.one_of(st.integers(min_value=0, max_value=2 * 10**9).map(str), st.sampled_from(["", "0", "soon", "1.5"]))
KINDS = st.sampled_from(["transaction answered", "call missed", "request accounted", "request acknowledged",
                         "request replied"])


def _transaction_line(kind, method, code, ts, call_id, tags, extra) -> bytes:
    return (f"ACC: {kind}: timestamp={ts};method={method};from_tag={tags[0]};to_tag={tags[1]};call_id={call_id};"
            f"code={code};reason=R;{extra}").encode()


transaction_lines = st.builds(
    _transaction_line, KINDS, METHODS, CODES, TIMES, st.sampled_from(["a", "b", "c"]),
    st.sampled_from([("f", "t"), ("t", "f"), ("f", "")]),
    st.sampled_from(["", "src_user=1001;dst_user=370", "src_ip=10.0.0.1;dst_ouser=alice", "account=u1;dst_user=*72*1",
                     "src_ip=not-an-ip;dst_user=370", "time_exten=999999;src_user=1"]))


def _feed_all(adapter: str, lines: list[bytes], context: SwitchContext, paths=("/log",)):
    stream = ADAPTERS[adapter].stream(context)
    results = []
    for offset, line in enumerate(lines):
        if ADAPTERS[adapter].is_record(line):  # as the runner does: a log's other lines are not records
            path = paths[offset % len(paths)]
            results += [item.result for item in stream.feed(line, Source(f"file:{path}", 0, offset))]
    return results, stream


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(transaction_lines, st.binary(max_size=80)), max_size=25), st.integers(60, 5000))
def test_kamailio_transaction_streams_never_raise_and_keep_every_record(lines, max_call):
    context = dataclasses.replace(CONTEXT, max_call_seconds=max_call)
    results, stream = _feed_all("kamailio", lines, context)
    for result in results:
        _check(result)
    # nothing is lost: each record is a result, part of another's (a paired call), or still held
    fed = sum(ADAPTERS["kamailio"].is_record(line) for line in lines)
    assert len(results) + stream.pairing.merged + stream.open_calls() == fed
    # what the stream holds survives its state file
    restored = ADAPTERS["kamailio"].stream(context)
    restored.restore(json.loads(json.dumps(stream.state())))
    assert restored.open_calls() == stream.open_calls()


flatstore_rows = st.lists(st.one_of(METHODS, CODES, TIMES, st.text(max_size=6), st.just("1001")),
                          min_size=0, max_size=len(ACC_CORE) + len(STOCK_EXTRA) + 2).map(
    lambda cells: "|".join(cells).encode())


@settings(max_examples=300, deadline=None)
@given(st.lists(flatstore_rows, max_size=20))
def test_kamailio_flatstore_files_never_raise(rows):
    results, _ = _feed_all("kamailio_flatstore", rows, CONTEXT,
                           paths=("/acc/acc_1.log", "/acc/missed_calls_2.log", "/acc/acc_cdrs_1.log"))
    for result in results:
        _check(result)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=60).map(str.encode), flatstore_rows.map(lambda row: row.replace(b"|", b":")),
                          st.just(b"id(int,auto) method(string) callid(string) sip_code(string) time(int)")),
                max_size=15))
def test_kamailio_db_text_files_never_raise(rows):
    results, _ = _feed_all("kamailio_db_text", rows, CONTEXT, paths=("/db/acc", "/db/acc_cdrs"))
    for result in results:
        _check(result)
