"""No input makes an adapter raise; whatever it returns is an error or a CDR the pipeline accepts."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.adapters import ADAPTERS, AdapterError, SwitchContext, asterisk_csv, asterisk_json, freeswitch_json
from pipeline.adapters.asterisk import CSV_LAYOUTS
from pipeline.adapters.kamailio import kamailio_acc
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
    else:
        cdr = CdrIn.model_validate(result)
        assert cdr.server_id == "sw1"
        assert isinstance(result["switch_fields"], dict)


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
