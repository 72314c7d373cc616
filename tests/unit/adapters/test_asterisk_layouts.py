"""Asterisk's CDR shapes: cdr_csv's six column counts, cdr_custom rows named by --columns, AMI `Cdr`
event names, and what the adapter finds of the caller's device in the channel."""
from __future__ import annotations

import dataclasses

from pipeline.adapters import AdapterError, asterisk_csv, asterisk_json
from pipeline.adapters.asterisk import CSV_BASE

BASE = {"accountcode": "", "src": "1001", "dst": "37060000001", "dcontext": "from-users", "clid": '"A" <1001>',
        "channel": "PJSIP/1001-00000a1b", "dstchannel": "PJSIP/provider-00000a1c", "lastapp": "Dial",
        "lastdata": "PJSIP/37060000001@provider", "start": "2026-11-25 12:00:00", "answer": "2026-11-25 12:00:05",
        "end": "2026-11-25 12:01:05", "duration": "65", "billsec": "60", "disposition": "ANSWERED",
        "amaflags": "DOCUMENTATION"}


def _line(*extra: str, **changed: str) -> str:
    values = [changed.get(name, BASE[name]) for name in CSV_BASE] + list(extra)
    return ",".join('"' + value.replace('"', '""') + '"' for value in values)


def test_every_cdr_csv_layout_is_read_by_its_column_count(vilnius):
    # 16: no option; 18: loguniqueid + loguserfield; 19: newcdrcolumns only; 21: all three
    plain = asterisk_csv(_line(), vilnius)
    both = asterisk_csv(_line("1795953600.7", "vip"), vilnius)
    newcols = asterisk_csv(_line("", "1795953600.1", "4"), vilnius)
    everything = asterisk_csv(_line("1795953600.7", "vip", "", "1795953600.1", "4"), vilnius)
    assert plain["call_id"].startswith("ch-") and "segment" in plain
    assert (both["call_id"], both["switch_fields"]["userfield"]) == ("1795953600.7", "vip")
    assert newcols["call_id"].startswith("ch-") and newcols["segment"] == "4"
    assert (everything["call_id"], everything["segment"], everything["switch_fields"]["linkedid"]) == \
        ("1795953600.7", "4", "1795953600.1")
    assert {cdr["billsec"] for cdr in (plain, both, newcols, everything)} == {60}


def test_seventeen_or_twenty_columns_tell_uniqueid_from_userfield_by_its_shape(vilnius):
    with_uniqueid = asterisk_csv(_line("pbx1-1795953600.7"), vilnius)  # systemname-epoch.sequence
    with_userfield = asterisk_csv(_line("vip customer"), vilnius)
    assert with_uniqueid["call_id"] == "pbx1-1795953600.7"
    assert with_userfield["call_id"].startswith("ch-")
    assert with_userfield["switch_fields"]["userfield"] == "vip customer"
    twenty = asterisk_csv(_line("1795953600.7", "", "1795953600.7", "9"), vilnius)
    assert (twenty["call_id"], twenty["segment"]) == ("1795953600.7", "9")


def test_without_uniqueid_the_call_id_is_the_same_for_the_same_call_and_differs_for_another(vilnius):
    first = asterisk_csv(_line(), vilnius)
    assert asterisk_csv(_line(), vilnius)["call_id"] == first["call_id"]
    assert asterisk_csv(_line(channel="PJSIP/1001-00000a1d"), vilnius)["call_id"] != first["call_id"]
    assert asterisk_csv(_line(channel=""), vilnius) == AdapterError(
        "accountcode", "no account and no device to find it by: accountcode is empty and channel '' names no SIP, "
                       "PJSIP or IAX2 peer (set the channel's accountcode, or call from a SIP device)")


def test_cdr_custom_rows_are_read_by_the_columns_given(vilnius):
    columns = ("clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "calldate", "answer",
               "end", "duration", "billsec", "disposition", "amaflags", "accountcode", "uniqueid", "userfield",
               "sequence")
    context = dataclasses.replace(vilnius, columns=columns)
    line = ('"""A"" <1001>","1001","*72*1234*8584","default","PJSIP/1001-00000002","PJSIP/1002-00000003","Dial",'
            '"PJSIP/1002","2026-11-25 12:00:00","2026-11-25 12:00:18","2026-11-25 12:00:32","32","14","ANSWERED",'
            '"DOCUMENTATION","","1795953600.2","",2')
    cdr = asterisk_csv(line, context)
    assert (cdr["call_id"], cdr["segment"], cdr["billsec"]) == ("1795953600.2", "2", 14)
    assert cdr["start_time"] == "2026-11-25T12:00:00+02:00"  # calldate is start's usual ODBC name
    assert cdr["dst"] == "*72*1234*8584"  # a feature code as dialled, not its digits
    assert asterisk_csv(line + ',"x"', context) == AdapterError("line", "has 20 columns, --columns names 19")


def test_ami_cdr_event_names_are_asterisk_cdr_variables(vilnius):
    event = {"Event": "Cdr", "Privilege": "cdr,all", "AccountCode": "", "Source": "1001", "Destination": "alice",
             "DestinationContext": "from-users", "CallerID": '"A" <1001>', "Channel": "SIP/1001-0000000a",
             "DestinationChannel": "SIP/alice-0000000b", "LastApplication": "Dial", "LastData": "SIP/alice",
             "StartTime": "2026-11-25 12:00:00", "AnswerTime": "", "EndTime": "2026-11-25 12:00:09",
             "Duration": "9", "BillableSeconds": "0", "Disposition": "NO ANSWER", "AMAFlags": "DOCUMENTATION",
             "UniqueID": "1795953600.20", "UserField": ""}
    cdr = asterisk_json(event, vilnius)
    assert (cdr["call_id"], cdr["src"], cdr["dst"], cdr["billsec"]) == ("1795953600.20", "1001", "alice", 0)
    assert cdr["device"] == {"sip_user": "1001"} and cdr["account"] == ""
    assert "answer_time" not in cdr and cdr["disposition"] == "NO ANSWER"
    assert cdr["switch_fields"]["Event"] == "Cdr" and cdr["switch_fields"]["CallerID"] == '"A" <1001>'
    # no Sequence in the event: the segment is made from the called channel and the times, stably
    assert cdr["segment"] == asterisk_json(dict(event), vilnius)["segment"]
    event_with_sequence = event | {"Sequence": "31"}
    assert asterisk_json(event_with_sequence, vilnius)["segment"] == "31"


def test_device_is_read_from_sip_pjsip_and_iax2_channels_only(vilnius):
    def device_of(channel: str, **fields):
        cdr = asterisk_csv(_line("1795953600.7", "", channel=channel, accountcode=fields.get("accountcode", "")),
                           vilnius)
        return cdr if isinstance(cdr, AdapterError) else cdr["device"]

    assert device_of("PJSIP/1001-00000a1b") == {"sip_user": "1001"}
    assert device_of("SIP/my-trunk-0000001f") == {"sip_user": "my-trunk"}  # peer names may hold "-"
    assert device_of("IAX2/office-12345") == {"sip_user": "office"}
    assert device_of("SIP/10.0.0.5-00000001") == {"ip": "10.0.0.5"}  # a peer named by its address
    assert device_of("Local/100@default-00000001;2", accountcode="acme") == {"accountcode": "acme"}
    assert isinstance(device_of("DAHDI/1-1"), AdapterError)
    mapping = dataclasses.replace(vilnius, columns=CSV_BASE + ("uniqueid", "peerip"))
    cdr = asterisk_csv(_line("1795953600.7", "192.0.2.10", channel="Local/1@x-1;1"), mapping)
    assert cdr["device"] == {"ip": "192.0.2.10"}  # ${CHANNEL(peerip)} in a custom mapping


def test_a_caller_name_in_another_encoding_does_not_lose_the_call(vilnius):
    line = _line("1795953600.7", "").encode().replace(b'""A""', b'""\xa5\xa5b""')  # CSV doubles the quotes
    cdr = asterisk_csv(line, vilnius)
    assert cdr["billsec"] == 60 and "\ufffd" in cdr["switch_fields"]["clid"]
    assert cdr["switch_fields"]["text_repaired"].startswith("bytes that are not UTF-8")


def test_times_in_the_hour_repeated_when_dst_ends_take_the_first(vilnius):
    cdr = asterisk_csv(_line("1795953600.7", "", start="2026-10-25 03:30:00", answer="", end="2026-10-25 03:30:20",
                             billsec="0", duration="20", disposition="NO ANSWER"), vilnius)
    assert cdr["start_time"] == "2026-10-25T03:30:00+03:00"  # fold 0: still summer time
