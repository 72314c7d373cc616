"""Asterisk CDRs: cdr_csv's Master.csv lines, cdr_custom / cdr_adaptive_odbc rows (--columns), and
JSON objects (cdr_kafka style, or an AMI `Cdr` event's fields), one CDR per record.

Mapping (docs/integration.md "Asterisk"):
    call_id      <- uniqueid (the Party A channel's unique id); a Master.csv without it (16 or 19
                    columns) gets a stable id made from the caller's channel and start time
    server_id    <- the adapter's server (--server; Asterisk's CDR does not name its system)
    account      <- accountcode, only when set (Asterisk leaves it empty unless told)
    device       <- the caller's peer in channel (SIP/1001-0000000a, PJSIP/1001-..., IAX2/1001-...),
                    accountcode, and peerip / recvip when a custom mapping logs them: the rate
                    stage finds the account by it when there is no accountcode
    segment      <- sequence; without it, made from dstchannel, answer and start. Asterisk writes
                    one record per bridged pair (transfer, forward, Local channel), all with the
                    caller's uniqueid: each record is its own segment, billed once
    src, dst     <- src, dst as written (a feature code or an extension name is not digits)
    start_time   <- start;  answer_time <- answer (empty when not answered);  end_time <- end
    duration     <- duration;  billsec <- billsec (refused when longer than duration)
    disposition  <- disposition (ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION: the contract's words)
    switch_fields <- every other column (clid, dcontext, channel, dstchannel, lastapp, lastdata,
                     amaflags, userfield, linkedid, peeraccount, sequence, ...)
Times without an offset are the Asterisk box's local time (cdr.conf usegmtime=no, the default):
they are read in --timezone, and one that does not exist there (the hour skipped when DST starts)
is refused. Epoch seconds and ISO-8601 with an offset are taken as they are.
"""
from __future__ import annotations

import csv
import hashlib
import re
from typing import Any

from pipeline.adapters.common import (
    AdapterError,
    BadField,
    SwitchContext,
    billsec_within_duration,
    caller,
    device,
    finish,
    iso,
    json_object,
    required,
    seconds,
    text,
    text_line,
    timestamp,
)

# cdr_csv.c build_csv_record(): 16 base columns, then uniqueid (loguniqueid=yes) and userfield
# (loguserfield=yes), then peeraccount, linkedid, sequence (newcdrcolumns=yes). All three options
# default to no in the code; the sample cdr.conf turns on loguniqueid and loguserfield.
CSV_BASE = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
            "start", "answer", "end", "duration", "billsec", "disposition", "amaflags")
NEW_COLUMNS = ("peeraccount", "linkedid", "sequence")
CSV_LAYOUTS = {
    16: CSV_BASE,
    18: CSV_BASE + ("uniqueid", "userfield"),
    19: CSV_BASE + NEW_COLUMNS,
    21: CSV_BASE + ("uniqueid", "userfield") + NEW_COLUMNS,
}
# 17 and 20 columns: loguniqueid or loguserfield alone; the 17th column says which
ONE_OF_TWO = {17: 0, 20: 3}
DISPOSITIONS = {"ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION", "UNKNOWN"}
# uniqueid is epoch.sequence, prefixed by asterisk.conf's systemname when one is set
_UNIQUEID = re.compile(r"^(?:.+-)?\d{9,11}\.\d+$")
# the caller's peer: technology/peer-suffix (SIP and PJSIP count channels in hex, IAX2 in decimal)
_PEER_CHANNEL = re.compile(r"^(?:SIP|PJSIP|IAX2)/(?P<peer>[^/;@]+)-[0-9A-Fa-f]+$")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
# names Asterisk's other backends give the CDR variables: the AMI Cdr event (cdr_manager) and the
# usual cdr_adaptive_odbc columns; matched without regard to case
ALIASES = {
    "uniqueid": "uniqueid", "accountcode": "accountcode", "source": "src", "destination": "dst",
    "destinationcontext": "dcontext", "callerid": "clid", "destinationchannel": "dstchannel",
    "lastapplication": "lastapp", "starttime": "start", "answertime": "answer", "endtime": "end",
    "billableseconds": "billsec", "calldate": "start", "answerdate": "answer", "enddate": "end",
    "hangupdate": "end",
}
MAPPED = ("uniqueid", "accountcode", "src", "dst", "start", "answer", "end", "duration", "billsec", "disposition")
NAMES = {"call_id": "uniqueid", "account": "accountcode", "src": "src", "dst": "dst", "start_time": "start",
         "answer_time": "answer", "end_time": "end", "duration": "duration", "billsec": "billsec",
         "disposition": "disposition", "segment": "sequence", "device": "channel"}


def asterisk_csv(line: str | bytes, context: SwitchContext) -> dict | AdapterError:
    """One Master.csv line (cdr_csv: 16 to 21 columns, by cdr.conf's loguniqueid, loguserfield and
    newcdrcolumns), or one cdr_custom / cdr_adaptive_odbc row whose columns --columns names."""
    line, repaired = text_line(line)
    try:
        rows = list(csv.reader([line.rstrip("\r\n")], strict=True))
    except csv.Error as exc:
        return AdapterError("line", f"is not a CSV line ({exc})")
    columns = rows[0] if rows else []
    layout = _layout(columns, context.columns)
    if isinstance(layout, AdapterError):
        return layout
    record = dict(zip(layout, columns))
    if repaired:
        record["text_repaired"] = "bytes that are not UTF-8 were replaced by U+FFFD"
    return _map(record, context, "asterisk_csv")


def asterisk_json(payload: str | bytes | dict, context: SwitchContext) -> dict | AdapterError:
    """One CDR as a JSON object: Asterisk's CDR variable names (cdr_kafka, ARI), or the AMI `Cdr`
    event's (UniqueID, AccountCode, Source, Destination, StartTime, BillableSeconds, ...)."""
    record = json_object(payload)
    if isinstance(record, AdapterError):
        return record
    return _map(_canonical(record), context, "asterisk_json")


def _layout(columns: list[str], named: tuple[str, ...]) -> tuple[str, ...] | AdapterError:
    if named:
        if len(columns) != len(named):
            return AdapterError("line", f"has {len(columns)} columns, --columns names {len(named)}")
        return tuple(ALIASES.get(name.lower(), name.lower()) for name in named)
    count = len(columns)
    if count in ONE_OF_TWO:
        # loguniqueid or loguserfield alone: a uniqueid looks like epoch.sequence, a userfield is free
        middle = "uniqueid" if _UNIQUEID.match(columns[16].strip()) else "userfield"
        layout = CSV_BASE + (middle,) + (NEW_COLUMNS if ONE_OF_TWO[count] else ())
    elif count in CSV_LAYOUTS:
        layout = CSV_LAYOUTS[count]
    else:
        return AdapterError("line", f"has {count} columns, cdr_csv writes 16 to 21 (cdr.conf [csv] loguniqueid, "
                                    "loguserfield, newcdrcolumns); for cdr_custom or cdr_adaptive_odbc name them "
                                    "with --columns")
    disposition = columns[CSV_BASE.index("disposition")].strip().upper()
    if disposition not in DISPOSITIONS:
        return AdapterError("line", f"column 15 holds {columns[14][:40]!r}, not a disposition: not cdr_csv's "
                                    "layout (for cdr_custom or cdr_adaptive_odbc name the columns with --columns)")
    return layout


def _canonical(record: dict[str, Any]) -> dict[str, Any]:
    """The record under Asterisk's CDR variable names (AMI and ODBC names mapped, any case);
    names the adapter does not map keep their own spelling."""
    canonical: dict[str, Any] = {}
    for key, value in record.items():
        name = ALIASES.get(key.lower(), key.lower()) if isinstance(key, str) else key
        if name in MAPPED or name in ("channel", "dstchannel", "sequence", "peerip", "recvip"):
            canonical.setdefault(name, value)
        else:
            canonical.setdefault(key, value)
    return canonical


def _map(record: dict[str, Any], context: SwitchContext, adapter: str) -> dict | AdapterError:
    try:
        tz = context.local_tz
        channel = text(record, "channel")
        start = text(record, "start", required=True)
        account = text(record, "accountcode")
        caller_device = device(_peer(channel), _peer_ip(record, channel), account)
        caller(account, caller_device, f"accountcode is empty and channel {channel!r} names no SIP, PJSIP or "
                                       "IAX2 peer (set the channel's accountcode, or call from a SIP device)",
               "accountcode")
        billsec = seconds(record, "billsec")
        duration = seconds(record, "duration", required=False)
        billsec_within_duration(billsec, duration, "billsec", "duration")
        cdr = {
            "call_id": text(record, "uniqueid") or _derived_call_id(channel, start),
            "server_id": context.server_id,
            "account": account,
            "device": caller_device,
            "segment": _segment(record, start),
            "src": text(record, "src"),
            "dst": text(record, "dst", required=True),
            "start_time": iso(required(timestamp(start, "start", tz), "start")),
            "answer_time": iso(timestamp(record.get("answer"), "answer", tz)),
            "end_time": iso(timestamp(record.get("end"), "end", tz)),
            "duration": duration,
            "billsec": billsec,
            "disposition": text(record, "disposition") or None,
        }
    except BadField as exc:
        return exc.error
    extra = {key: value for key, value in record.items() if key not in MAPPED}
    return finish(cdr, extra, adapter, NAMES)


def _peer(channel: str) -> str:
    """The SIP/PJSIP/IAX2 peer that placed the call (`PJSIP/1001-00000a1b` -> `1001`); a peer
    named by its address is an IP, not a user. Local/, DAHDI/, Message/ channels name no device."""
    found = _PEER_CHANNEL.match(channel.removesuffix("<ZOMBIE>"))
    if found is None or _IPV4.match(found.group("peer")):
        return ""
    return found.group("peer")


def _peer_ip(record: dict[str, Any], channel: str) -> str:
    found = _PEER_CHANNEL.match(channel.removesuffix("<ZOMBIE>"))
    if found is not None and _IPV4.match(found.group("peer")):
        return found.group("peer")
    for name in ("peerip", "recvip"):  # ${CHANNEL(peerip)} / ${CHANNEL(recvip)} in a custom mapping
        try:
            value = text(record, name)
        except BadField:
            continue
        if value:
            return value
    return ""


def _segment(record: dict[str, Any], start: str) -> str:
    """Which of the call's records this is: Asterisk's sequence when written, else a stable digest
    of what tells a call's records apart (the called channel, the answer and start times)."""
    sequence = text(record, "sequence")
    if sequence:
        return sequence
    parts = "|".join((text(record, "dstchannel"), text(record, "answer"), start))
    return "d" + hashlib.sha1(parts.encode()).hexdigest()[:12]


def _derived_call_id(channel: str, start: str) -> str:
    """Master.csv without uniqueid (loguniqueid=no): the caller's channel is unique while Asterisk
    runs and its start time tells runs apart, so together they name the call, the same every time."""
    if not channel:
        raise BadField("uniqueid", "missing, and no channel to name the call by (cdr.conf [csv] loguniqueid=yes)")
    return "ch-" + hashlib.sha1(f"{channel}|{start}".encode()).hexdigest()[:16]
