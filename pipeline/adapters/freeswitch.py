"""FreeSWITCH CDRs as mod_json_cdr writes them: one JSON object per call, the channel variables
under `variables` (URL-encoded by default, encode-values=true), the caller profile under `callflow`.

Mapping (README "FreeSWITCH"):
    call_id      <- variables.uuid (the channel's UUID; required)
    server_id    <- the adapter's server (--server); FreeSWITCH's own `switchname` stays in switch_fields
    account      <- variables.accountcode (required: the account is never guessed from caller id)
    src          <- variables.caller_id_number, else callflow[0].caller_profile.caller_id_number
    dst          <- variables.destination_number, else callflow[0].caller_profile.destination_number
    start_time   <- variables.start_epoch (UTC epoch), else start_stamp (local time, --timezone)
    answer_time  <- answer_epoch (0: not answered), else answer_stamp;  end_time <- end_epoch / end_stamp
    duration     <- variables.duration;  billsec <- variables.billsec
    disposition  <- billsec > 0: ANSWERED; else by hangup_cause (HANGUP_CAUSES below), else FAILED
    switch_fields <- every other variable, and the other top-level keys (switchname, core-uuid, ...)
"""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from pipeline.adapters.common import (
    AdapterError, BadField, SwitchContext, finish, iso, json_object, required, seconds, text, timestamp,
)

# Q.850 causes FreeSWITCH writes for calls that were not answered, in the contract's words.
HANGUP_CAUSES = {
    "USER_BUSY": "BUSY",
    "NORMAL_CLEARING": "NO ANSWER",  # with billsec 0: hung up before (or at) the answer
    "NO_ANSWER": "NO ANSWER",
    "NO_USER_RESPONSE": "NO ANSWER",
    "ORIGINATOR_CANCEL": "NO ANSWER",
    "NORMAL_CIRCUIT_CONGESTION": "CONGESTION",
    "SWITCH_CONGESTION": "CONGESTION",
}
MAPPED_VARIABLES = ("uuid", "accountcode", "caller_id_number", "destination_number", "start_epoch",
                    "answer_epoch", "end_epoch", "start_stamp", "answer_stamp", "end_stamp", "duration",
                    "billsec", "hangup_cause")
NAMES = {"call_id": "variables.uuid", "account": "variables.accountcode", "src": "variables.caller_id_number",
         "dst": "variables.destination_number", "start_time": "variables.start_epoch",
         "answer_time": "variables.answer_epoch", "end_time": "variables.end_epoch",
         "duration": "variables.duration", "billsec": "variables.billsec", "disposition": "variables.hangup_cause"}


def freeswitch_json(payload: str | bytes | dict, context: SwitchContext) -> dict | AdapterError:
    record = json_object(payload)
    if isinstance(record, AdapterError):
        return record
    raw_variables = record.get("variables")
    if not isinstance(raw_variables, dict):
        return AdapterError("variables", "missing or not an object (is this a mod_json_cdr record?)")
    variables = {key: unquote(value) if isinstance(value, str) else value for key, value in raw_variables.items()}
    profile = _caller_profile(record.get("callflow"))
    try:
        billsec = seconds(variables, "billsec")
        cdr = {
            "call_id": text(variables, "uuid", required=True),
            "server_id": context.server_id,
            "account": text(variables, "accountcode", required=True),
            "src": text(variables, "caller_id_number") or text(profile, "caller_id_number"),
            "dst": text(variables, "destination_number") or _profile_dst(profile),
            "start_time": iso(required(_time(variables, "start", context), "variables.start_epoch")),
            "answer_time": iso(_time(variables, "answer", context)),
            "end_time": iso(_time(variables, "end", context)),
            "duration": seconds(variables, "duration", required=False),
            "billsec": billsec,
            "disposition": _disposition(text(variables, "hangup_cause"), billsec),
        }
    except BadField as exc:
        return AdapterError(exc.error.field if "." in exc.error.field else f"variables.{exc.error.field}",
                            exc.error.rule)
    extra: dict[str, Any] = {key: value for key, value in record.items() if key != "variables"}
    extra["variables"] = {key: value for key, value in variables.items() if key not in MAPPED_VARIABLES}
    return finish(cdr, extra, "freeswitch", NAMES)


def _time(variables: dict, event: str, context: SwitchContext):
    """The epoch variable when FreeSWITCH wrote it (unambiguous), else the local-time stamp."""
    epoch = variables.get(f"{event}_epoch")
    if epoch not in (None, ""):
        return timestamp(epoch, f"{event}_epoch", context.local_tz)
    return timestamp(variables.get(f"{event}_stamp"), f"{event}_stamp", context.local_tz)


def _disposition(cause: str, billsec: int) -> str:
    if billsec > 0:
        return "ANSWERED"
    return HANGUP_CAUSES.get(cause.upper(), "FAILED")


def _caller_profile(callflow: Any) -> dict:
    """callflow is a list in current FreeSWITCH, a single object in old versions."""
    first = callflow[0] if isinstance(callflow, list) and callflow else callflow
    profile = first.get("caller_profile") if isinstance(first, dict) else None
    return profile if isinstance(profile, dict) else {}


def _profile_dst(profile: dict) -> str:
    try:
        return text(profile, "destination_number", required=True)
    except BadField:
        raise BadField("variables.destination_number", "missing (nor in callflow[0].caller_profile)") from None
