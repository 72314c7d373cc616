"""Kamailio's stock accounting: one record per SIP transaction, as acc writes it with `log_flag`
(syslog lines `ACC: transaction answered: timestamp=...;method=INVITE;...`) or `db_flag` (rows of
the acc and missed_calls tables, in flatstore or db_text files).

A transaction is not a call: an answered INVITE starts one, its BYE ends it (kamailio_pairing puts
the two together). What a transaction record holds (acc's core, then log_extra / db_extra; the
names of Kamailio's default configuration):
    method, from_tag, to_tag, call_id (callid), code (sip_code), reason (sip_reason)
    timestamp (time): when the final reply went out, epoch seconds; with time_mode 1 or 2 also
        time_exten (microseconds) or time_attr (seconds.milliseconds)
    src_user ($fU), src_domain ($fd), src_ip ($si), dst_ouser ($tU), dst_user ($rU), dst_domain ($rd)
    account: an extra a configuration may add to name the paying account explicitly
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.adapters.common import (
    AdapterError,
    BadField,
    Skipped,
    SwitchContext,
    caller,
    device,
    finish,
    iso,
    timestamp,
    whole_seconds_between,
)

# what acc writes before a transaction's fields (acc.h): the kind of event, then "timestamp="
_ACC_LINE = re.compile(r"ACC: (?P<kind>[a-z][a-z ]{2,40}?): (?P<body>timestamp=.*)$")
KINDS = ("transaction answered", "call missed", "request accounted", "request acknowledged")
# acc joins name=value pairs with ";" (acc.c acc_log_request); a value may hold ";" itself
_FIELD_SPLIT = re.compile(r";(?=[A-Za-z_][A-Za-z0-9_]*=)")
# the table columns of acc's core, under the names the syslog lines use
TABLE_NAMES = {"callid": "call_id", "sip_code": "code", "sip_reason": "reason", "time": "timestamp"}
AUTH_CHALLENGES = {401, 407}
SIP_DISPOSITIONS = {486: "BUSY", 600: "BUSY", 408: "NO ANSWER", 480: "NO ANSWER", 487: "NO ANSWER",
                    503: "CONGESTION"}


@dataclass(frozen=True)
class Transaction:
    method: str
    call_id: str
    from_tag: str
    to_tag: str
    code: int
    time: datetime | None
    fields: dict[str, str] = field(default_factory=dict)  # everything the record holds, as written

    @property
    def key(self) -> str:
        """The dialog: Call-ID and the two tags. A BYE the callee sends has them the other way round."""
        return "|".join([self.call_id, *sorted((self.from_tag, self.to_tag))])

    def to_state(self) -> dict[str, Any]:
        return {"method": self.method, "call_id": self.call_id, "from_tag": self.from_tag, "to_tag": self.to_tag,
                "code": self.code, "time": iso(self.time), "fields": self.fields}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Transaction:
        time = datetime.fromisoformat(state["time"]) if state.get("time") else None
        return cls(state["method"], state["call_id"], state["from_tag"], state["to_tag"], int(state["code"]), time,
                   dict(state.get("fields") or {}))


def is_transaction_line(line: str) -> bool:
    return "ACC: " in line and "timestamp=" in line


def transaction_from_line(line: str, context: SwitchContext) -> Transaction | AdapterError:
    """One syslog line of acc's transaction accounting (any prefix syslog or Kamailio adds before it)."""
    found = _ACC_LINE.search(line.rstrip())
    if found is None:
        return AdapterError("line", "is not an acc transaction record (no \"ACC: <kind>: timestamp=\")")
    if found.group("kind") not in KINDS:
        return AdapterError("line", f"acc record kind {found.group('kind')!r} is none of " + ", ".join(KINDS))
    fields: dict[str, str] = {"acc": found.group("kind")}
    for part in _FIELD_SPLIT.split(found.group("body")):
        name, _, value = part.partition("=")
        fields.setdefault(name.strip(), value.strip())
    return transaction_from_fields(fields, context)


def transaction_from_fields(fields: dict[str, str], context: SwitchContext) -> Transaction | AdapterError:
    """A transaction from its fields under the syslog names (table rows are renamed before)."""
    try:
        method = _field(fields, "method").upper()
        call_id = _field(fields, "call_id")
        code_text = _field(fields, "code")
        if not (code_text.isascii() and code_text.isdigit() and len(code_text) == 3):
            raise BadField("code", f"must be a 3-digit SIP status (got {code_text[:20]!r})")
        return Transaction(method, call_id, fields.get("from_tag", "").strip(), fields.get("to_tag", "").strip(),
                           int(code_text), _time(fields, context), dict(fields))
    except BadField as exc:
        return exc.error


def table_fields(row: dict[str, str]) -> dict[str, str]:
    """An acc / missed_calls row under the names the syslog lines use (callid -> call_id, ...)."""
    return {TABLE_NAMES.get(name, name): value for name, value in row.items()}


def _field(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise BadField(name, "missing or empty")
    return value


def _time(fields: dict[str, str], context: SwitchContext) -> datetime | None:
    """When the transaction completed: `timestamp` (epoch seconds, or a table's local date-time),
    made finer by time_mode 1 (time_exten, microseconds) or 2 (time_attr, seconds.milliseconds)."""
    moment = timestamp(fields.get("timestamp", "").strip() or None, "timestamp", context.local_tz)
    if moment is None:
        return None  # some exports leave the INVITE's time empty and time its ACK
    exten = fields.get("time_exten", "").strip()
    attr = fields.get("time_attr", "").strip()
    if exten.isascii() and exten.isdigit() and len(exten) <= 6:
        return moment.replace(microsecond=int(exten))
    if attr and re.fullmatch(r"\d{1,11}\.\d{1,6}", attr):
        finer = timestamp(attr, "time_attr", context.local_tz)
        if finer is not None and abs((finer - moment).total_seconds()) < 1:
            return finer
    return moment


# ---- calls made of transactions -------------------------------------------------------------

def answered_call(invite: Transaction, bye: Transaction, context: SwitchContext, adapter: str,
                  acked: Transaction | None = None) -> dict | AdapterError:
    """An INVITE answered (2xx) and the BYE that ended it: one call, billed from the answer to the BYE.
    acc does not log when the INVITE arrived, so the call starts at its answer (duration = billsec)."""
    answer = invite.time or (acked.time if acked else None)
    try:
        if answer is None:
            raise BadField("timestamp", "the answered INVITE has no time (nor an ACK with one)")
        if bye.time is None:
            raise BadField("timestamp", "the BYE has no time")
        if bye.time < answer:
            raise BadField("timestamp", f"the BYE ({iso(bye.time)}) is before the INVITE's answer ({iso(answer)})")
        billsec = whole_seconds_between(answer, bye.time)
        cdr = _call(invite, context) | {
            "start_time": iso(answer), "answer_time": iso(answer), "end_time": iso(bye.time),
            "duration": billsec, "billsec": billsec, "disposition": "ANSWERED",
        }
    except BadField as exc:
        return exc.error
    records = {"invite": invite.fields, "bye": bye.fields} | ({"ack": acked.fields} if acked else {})
    return finish(cdr, {"acc_records": records}, adapter, _NAMES)


def unanswered_call(invite: Transaction, context: SwitchContext, adapter: str) -> dict | AdapterError | Skipped:
    """An INVITE that got a final failure: a call attempt, not billed. A 401/407 is the proxy asking
    for credentials (the INVITE comes again with them), not an attempt."""
    if invite.code in AUTH_CHALLENGES:
        return Skipped(f"INVITE {invite.code}: an authentication challenge, not a call attempt")
    try:
        if invite.time is None:
            raise BadField("timestamp", "missing or empty")
        cdr = _call(invite, context) | {
            # one Call-ID may fail on one branch and be answered on the next (serial forking): the
            # failure is its own segment, so it never takes the answered call's key
            "segment": f"failed-{invite.code}-{int(invite.time.timestamp())}",
            "start_time": iso(invite.time), "end_time": iso(invite.time), "duration": 0, "billsec": 0,
            "disposition": SIP_DISPOSITIONS.get(invite.code, "FAILED"),
        }
    except BadField as exc:
        return exc.error
    return finish(cdr, {"acc_records": {"invite": invite.fields}}, adapter, _NAMES)


_NAMES = {"call_id": "call_id", "account": "account", "dst": "dst_user", "src": "src_user",
          "start_time": "timestamp", "end_time": "timestamp", "device": "src_user"}


def _call(invite: Transaction, context: SwitchContext) -> dict[str, Any]:
    fields = invite.fields
    account = fields.get("account", "").strip()
    sip_user = fields.get("src_user", "").strip()
    caller_device = device(sip_user, fields.get("src_ip", ""))
    unnamed = " (its rows have columns past acc's core that --columns does not name)" if "extra_1" in fields else ""
    caller(account, caller_device, "the INVITE's record has no account, src_user ($fU) nor src_ip ($si): "
                                   f"add them to acc's log_extra / db_extra{unnamed}")
    dst = fields.get("dst_user", "").strip() or fields.get("dst_ouser", "").strip()
    if not dst:
        raise BadField("dst_user", "missing: the INVITE's record has no dst_user ($rU) nor dst_ouser ($tU); add "
                                   f"them to acc's log_extra / db_extra{unnamed}")
    return {"call_id": invite.call_id, "server_id": context.server_id, "account": account, "device": caller_device,
            "src": sip_user, "dst": dst}


def epoch(moment: datetime | None) -> float | None:
    return None if moment is None else (moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(seconds=1)
