"""Kamailio CDRs as deploy/kamailio/kamailio.cfg makes acc write them: one log line per finished
dialog (acc `cdr_enable`, logged with `log_write_cdr(): key=value; key=value; ...`).

Mapping (README "Kamailio"):
    call_id      <- callid (the SIP Call-ID of the INVITE)
    server_id    <- the adapter's server (RATING_SWITCH_SERVER, default kamailio1)
    account      <- account (the INVITE's From user, $fU); empty for a calling card's call
    card         <- card (a calling card's call, dialled as *CARD*PIN#DESTINATION: the card that pays;
                    the CDR then has `card` and an empty `account`, and the pipeline charges the card's
                    own account, whose id is its number). Absent, empty or acc's "<null>": no card.
    dst          <- dst (the INVITE's Request-URI user, $rU; for a card call the DESTINATION it was
                    relayed to, never the dial string with its PIN)
    src          <- src (the From user) when written, else account (the From user is the caller's
                    number as well as his account)
    start_time   <- invite_ts (epoch seconds.microseconds of the INVITE, UTC);
                    else acc's start_time (the dialog's creation, the same moment to the millisecond)
    answer_time  <- answer_ts (epoch of the 2xx; absent when the call was not answered)
    end_time     <- acc's end_time (epoch of the BYE, of the dialog's end by dlg.end_dlg, or of the failure)
    duration     <- end_time - start_time;  billsec <- end_time - answer_time (0 if not answered),
                    both rounded half up to whole seconds from the microsecond times
    disposition  <- sip_code: 2xx ANSWERED; 486, 600 BUSY; 408, 480, 487 NO ANSWER; 503 CONGESTION;
                    any other FAILED
    switch_fields <- acc's own start_time, end_time, duration, and sip_code, sip_reason, from_tag,
                    to_tag (with callid, from_tag, to_tag a SIP dialog is found again), src_ip
"""
from __future__ import annotations

import re

from pipeline.adapters.common import (
    AdapterError, BadField, SwitchContext, finish, iso, required, text, timestamp, whole_seconds_between,
)

# What acc prints before the CDR's fields; any other log line is not a CDR.
CDR_MARKER = "log_write_cdr(): "
# acc joins fields with "; " (see acc_cdr.c log_write_cdr); a field starts with "name="
_FIELD_SPLIT = re.compile(r"; (?=[A-Za-z_][A-Za-z0-9_]*=)")
SIP_DISPOSITIONS = {"486": "BUSY", "600": "BUSY", "408": "NO ANSWER", "480": "NO ANSWER", "487": "NO ANSWER",
                    "503": "CONGESTION"}
MAPPED = ("callid", "account", "card", "src", "dst", "invite_ts", "answer_ts")
NAMES = {"call_id": "callid", "account": "account", "card": "card", "dst": "dst", "src": "src",
         "start_time": "invite_ts", "answer_time": "answer_ts", "end_time": "end_time", "disposition": "sip_code"}
# how acc writes a dialog variable that was never set (a call that is not a card's)
_UNSET = ("<null>", "n/a")


def is_cdr_line(line: str | bytes) -> bool:
    """Whether a line of Kamailio's log is an acc CDR (the log holds Kamailio's other messages too)."""
    marker = CDR_MARKER.encode() if isinstance(line, bytes) else CDR_MARKER
    return marker in line


def kamailio_acc(line: str | bytes, context: SwitchContext) -> dict | AdapterError:
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            return AdapterError("line", "is not UTF-8 text")
    if CDR_MARKER not in line:
        return AdapterError("line", f"is not an acc CDR (no {CDR_MARKER.strip()!r})")
    fields = _fields(line.split(CDR_MARKER, 1)[1].strip())
    try:
        start = required(timestamp(fields.get("invite_ts") or fields.get("start_time"), "invite_ts",
                                   context.local_tz), "invite_ts")
        answer = timestamp(fields.get("answer_ts"), "answer_ts", context.local_tz)
        end = required(timestamp(fields.get("end_time"), "end_time", context.local_tz), "end_time")
        code = text(fields, "sip_code")
        card = _set(text(fields, "card"))
        if card and not (card.isascii() and card.isdigit()):
            raise BadField("card", f"must be a card number, digits only (got {card!r})")
        cdr = {
            "call_id": text(fields, "callid", required=True),
            "server_id": context.server_id,
            "card": card or None,
            # a card's call: the card pays, through its own account (CdrIn makes the card's id the account)
            "account": "" if card else text(fields, "account", required=True),
            "src": _set(text(fields, "src")) or _set(text(fields, "account")),
            "dst": text(fields, "dst", required=True),
            "start_time": iso(start),
            "answer_time": iso(answer),
            "end_time": iso(end),
            "duration": whole_seconds_between(start, end),
            "billsec": whole_seconds_between(answer, end) if answer else 0,
            "disposition": _disposition(code, answered=answer is not None),
        }
    except BadField as exc:
        return exc.error
    extra = {key: value for key, value in fields.items() if key not in MAPPED}
    return finish(cdr, extra, "kamailio", NAMES)


def _set(value: str) -> str:
    return "" if value in _UNSET else value


def _fields(body: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in _FIELD_SPLIT.split(body):
        name, _, value = part.partition("=")
        fields[name.strip()] = value.strip().rstrip(";")
    return fields


def _disposition(code: str, answered: bool) -> str:
    if answered or code.startswith("2"):
        return "ANSWERED"
    return SIP_DISPOSITIONS.get(code, "FAILED")
