"""Kamailio's dialog CDRs: acc's CDR engine (`cdr_enable`) writes one record per dialog, as a log
line (`log_write_cdr(): key=value; key=value; ...`, deploy/kamailio/kamailio.cfg's way) or as an
acc_cdrs row (flatstore / db_text files: kamailio_tables). Stock acc's per-transaction records
(`ACC: transaction answered: ...`) are kamailio_transactions' and kamailio_pairing's.

Mapping (docs/integration.md "Kamailio"), the names of kamailio.cfg's cdr_extra first:
    call_id      <- callid (or call_id: cdr_extra must log the Call-ID, acc's CDR core has none)
    server_id    <- the adapter's server (RATING_SWITCH_SERVER, default kamailio1)
    account      <- account (kamailio.cfg: the INVITE's From user), only when logged; empty for a
                    calling card's call
    card         <- card (a calling card's call, dialled as *CARD*PIN#DESTINATION: the card that pays;
                    the CDR then has `card` and an empty `account`, and the pipeline charges the card's
                    own account, whose id is its number). Absent, empty or acc's "<null>": no card.
    device       <- src_user (else src) as sip_user, src_ip as ip: the rate stage finds the account
                    by them when no account is logged
    dst          <- dst, else dst_user ($rU), else dst_ouser ($tU), as written (for a card call the
                    DESTINATION it was relayed to, never the dial string with its PIN)
    src          <- src, else src_user, else account
    start_time   <- invite_ts (epoch seconds.microseconds of the INVITE, UTC);
                    else acc's start_time (the dialog's creation, or its confirmation with
                    cdr_start_on_confirmed=1)
    answer_time  <- answer_ts (epoch of the 2xx; absent when the call was not answered)
    end_time     <- acc's end_time (epoch of the BYE, of the dialog's end by dlg.end_dlg, or of the failure)
    duration, billsec <- with answer_ts: end_time - start, end_time - answer_ts, rounded half up to
                    whole seconds from the exact times. Without it, a call that was answered (sip_code
                    2xx, or no sip_code and acc's duration > 0: acc writes a CDR for confirmed
                    dialogs only unless cdr_on_failed) bills acc's duration; any other, 0
    disposition  <- sip_code: 2xx ANSWERED; 486, 600 BUSY; 408, 480, 487 NO ANSWER; 503 CONGESTION;
                    any other FAILED
    switch_fields <- everything else as written (acc's start_time, end_time, duration, sip_reason,
                    from_tag, to_tag, src_ip, ...)
"""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from pipeline.adapters.common import (
    AdapterError,
    BadField,
    SwitchContext,
    caller,
    device,
    finish,
    iso,
    required,
    text,
    text_line,
    timestamp,
    whole_seconds_between,
)

# What acc prints before the CDR's fields; any other log line is not a CDR.
CDR_MARKER = "log_write_cdr(): "
# acc joins fields with "; " (see acc_cdr.c log_write_cdr); a field starts with "name="
_FIELD_SPLIT = re.compile(r"; (?=[A-Za-z_][A-Za-z0-9_]*=)")
SIP_DISPOSITIONS = {"486": "BUSY", "600": "BUSY", "408": "NO ANSWER", "480": "NO ANSWER", "487": "NO ANSWER",
                    "503": "CONGESTION"}
MAPPED = ("callid", "call_id", "account", "card", "src", "dst", "invite_ts", "answer_ts")
NAMES = {"call_id": "callid", "account": "account", "card": "card", "dst": "dst", "src": "src",
         "start_time": "invite_ts", "answer_time": "answer_ts", "end_time": "end_time", "disposition": "sip_code",
         "device": "src_user"}
# how acc writes a dialog variable that was never set (a call that is not a card's)
_UNSET = ("<null>", "n/a")
_DURATION = re.compile(r"^\d{1,10}(\.\d{1,9})?$")


def is_cdr_line(line: str | bytes) -> bool:
    """Whether a line of Kamailio's log is an acc record (the log holds Kamailio's other messages too):
    a dialog CDR, or a transaction (`ACC: transaction answered: timestamp=...`)."""
    if isinstance(line, bytes):
        return CDR_MARKER.encode() in line or (b"ACC: " in line and b"timestamp=" in line)
    return CDR_MARKER in line or ("ACC: " in line and "timestamp=" in line)


def kamailio_acc(line: str | bytes, context: SwitchContext) -> dict | AdapterError:
    """One dialog CDR log line (`log_write_cdr(): ...`)."""
    line, _ = text_line(line)
    if CDR_MARKER not in line:
        return AdapterError("line", f"is not an acc CDR (no {CDR_MARKER.strip()!r})")
    return cdr_from_fields(_fields(line.split(CDR_MARKER, 1)[1].strip()), context, "kamailio")


def cdr_from_fields(fields: dict[str, str], context: SwitchContext, adapter: str) -> dict | AdapterError:
    """A dialog CDR from its fields (a log line's, or an acc_cdrs row's under its column names)."""
    unnamed = " (its rows have columns past acc's core that --cdr-columns does not name)" \
        if "extra_1" in fields else ""
    try:
        call_id = _set(text(fields, "callid")) or _set(text(fields, "call_id")) or _no_call_id(unnamed)
        start = required(timestamp(_set(fields.get("invite_ts", "")) or fields.get("start_time"), "invite_ts",
                                   context.local_tz), "invite_ts")
        answer = timestamp(_set(fields.get("answer_ts", "")) or None, "answer_ts", context.local_tz)
        end = required(timestamp(fields.get("end_time"), "end_time", context.local_tz), "end_time")
        code = text(fields, "sip_code")
        card = _set(text(fields, "card"))
        if card and not (card.isascii() and card.isdigit()):
            raise BadField("card", f"must be a card number, digits only (got {card!r})")
        account = "" if card else _set(text(fields, "account"))
        sip_user = _set(text(fields, "src_user")) or _set(text(fields, "src"))
        caller_device = None if card else device(sip_user, _set(text(fields, "src_ip")))
        if not card:
            caller(account, caller_device, "no account, src_user ($fU) nor src_ip ($si) is logged: add them to "
                                           f"acc's cdr_extra{unnamed}")
        answered = answer is not None or code.startswith("2") or (not code and _acc_duration(fields) > 0)
        cdr = {
            "call_id": call_id,
            "server_id": context.server_id,
            "card": card or None,
            # a card's call: the card pays, through its own account (CdrIn makes the card's id the account)
            "account": account,
            "device": caller_device,
            "src": _set(text(fields, "src")) or _set(text(fields, "src_user")) or account,
            "dst": _set(text(fields, "dst")) or _set(text(fields, "dst_user")) or _set(text(fields, "dst_ouser"))
            or _no_dst(unnamed),
            "start_time": iso(start),
            "answer_time": iso(answer),
            "end_time": iso(end),
            "duration": whole_seconds_between(start, end),
            "billsec": _billsec(fields, start, answer, end, answered),
            "disposition": _disposition(code, answered),
        }
    except BadField as exc:
        return exc.error
    extra = {key: value for key, value in fields.items() if key not in MAPPED}
    return finish(cdr, extra, adapter, NAMES)


def _billsec(fields: dict[str, str], start, answer, end, answered: bool) -> int:
    if answer is not None:
        return whole_seconds_between(answer, end)
    if not answered:
        return 0
    # no answer time logged: acc's duration is the dialog's (from its confirmation with
    # cdr_start_on_confirmed=1, else from the INVITE, ringing included)
    duration = _acc_duration(fields)
    return int(duration.quantize(Decimal(1), rounding=ROUND_HALF_UP)) if duration > 0 else \
        whole_seconds_between(start, end)


def _acc_duration(fields: dict[str, str]) -> Decimal:
    value = fields.get("duration", "").strip()
    if not _DURATION.match(value):
        return Decimal(0)
    try:
        return Decimal(value)
    except InvalidOperation:
        return Decimal(0)


def _no_call_id(unnamed: str) -> str:
    raise BadField("callid", "missing: acc's CDR core has no Call-ID, add callid=$ci (or $dlg_var) to "
                             f"cdr_extra{unnamed}")


def _no_dst(unnamed: str) -> str:
    raise BadField("dst", "missing: no dst, dst_user ($rU) nor dst_ouser ($tU) is logged: add one to "
                          f"cdr_extra{unnamed}")


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
