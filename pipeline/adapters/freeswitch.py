"""FreeSWITCH CDRs as mod_json_cdr writes them: one JSON object per call, the channel variables
under `variables` (URL-encoded by default, encode-values=true), the caller profile under `callflow`.

Which leg: mod_json_cdr writes one record per leg (log-b-leg is on by default). The A leg (the
caller's channel) carries the call's billing: it is billed. A B leg (the channel FreeSWITCH
originated to the callee: its caller profile has an `originator`, or it has originating_leg_uuid)
is skipped, counted under its reason, never billed a second time.

Mapping (docs/integration.md "FreeSWITCH"):
    call_id      <- variables.uuid (the channel's UUID; required)
    server_id    <- the adapter's server (--server); FreeSWITCH's own `switchname` stays in switch_fields
    account      <- variables.accountcode, only when set (never guessed from the caller id)
    device       <- variables.sip_from_user, else the caller profile's username; variables.sip_network_ip,
                    else the caller profile's network_addr; accountcode: the rate stage finds the
                    account by them when there is no accountcode
    src          <- variables.caller_id_number, else the caller profile's caller_id_number, else sip_from_user
    dst          <- variables.destination_number, else the first caller profile's destination_number
                    (what the caller dialled, before any transfer), else variables.sip_req_user; as
                    written: a feature code or a SIP user that is a name is not digits
    start_time   <- variables.start_epoch (UTC epoch), else start_stamp (local time, --timezone)
    answer_time  <- answer_epoch (0: not answered), else answer_stamp;  end_time <- end_epoch / end_stamp
    duration     <- variables.duration;  billsec <- variables.billsec (refused when longer than duration)
    disposition  <- billsec > 0: ANSWERED; else by hangup_cause (HANGUP_CAUSES below), else FAILED
    switch_fields <- every other variable, and the other top-level keys (switchname, core-uuid, ...)
"""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from pipeline.adapters.common import (
    AdapterError,
    BadField,
    Skipped,
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
    timestamp,
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
         "duration": "variables.duration", "billsec": "variables.billsec", "disposition": "variables.hangup_cause",
         "device": "variables.sip_from_user"}
B_LEG = "B leg: its A leg's record bills the call"


def freeswitch_json(payload: str | bytes | dict, context: SwitchContext) -> dict | AdapterError | Skipped:
    record = json_object(payload)
    if isinstance(record, AdapterError):
        return record
    raw_variables = record.get("variables")
    if not isinstance(raw_variables, dict):
        return AdapterError("variables", "missing or not an object (is this a mod_json_cdr record?)")
    variables = {key: unquote(value) if isinstance(value, str) else value for key, value in raw_variables.items()}
    profiles = _caller_profiles(record.get("callflow"))
    if _is_b_leg(variables, profiles):
        return Skipped(B_LEG)
    profile = profiles[0] if profiles else {}
    try:
        account = text(variables, "accountcode")
        sip_user = text(variables, "sip_from_user") or text(profile, "username")
        caller_device = device(sip_user, text(variables, "sip_network_ip") or text(profile, "network_addr"), account)
        caller(account, caller_device, "accountcode, sip_from_user and sip_network_ip are empty, and the caller "
                                       "profile has no username nor network_addr", "variables.accountcode")
        billsec = seconds(variables, "billsec")
        duration = seconds(variables, "duration", required=False)
        billsec_within_duration(billsec, duration, "variables.billsec", "variables.duration")
        cdr = {
            "call_id": text(variables, "uuid", required=True),
            "server_id": context.server_id,
            "account": account,
            "device": caller_device,
            "src": text(variables, "caller_id_number") or text(profile, "caller_id_number") or sip_user,
            "dst": text(variables, "destination_number") or _dialled(profiles, variables),
            "start_time": iso(required(_time(variables, "start", context), "variables.start_epoch")),
            "answer_time": iso(_time(variables, "answer", context)),
            "end_time": iso(_time(variables, "end", context)),
            "duration": duration,
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


def _caller_profiles(callflow: Any) -> list[dict]:
    """The caller profiles, newest first. callflow is a list in current FreeSWITCH (newest first),
    a single object in old versions; each entry numbers its profile in profile_index."""
    entries = callflow if isinstance(callflow, list) else [callflow]
    numbered = [(_profile_index(entry), position, entry["caller_profile"]) for position, entry in enumerate(entries)
                if isinstance(entry, dict) and isinstance(entry.get("caller_profile"), dict)]
    return [profile for _, _, profile in sorted(numbered, key=lambda item: (-item[0], item[1]))]


def _profile_index(entry: dict) -> int:
    value = str(entry.get("profile_index", ""))
    return int(value) if value.isascii() and value.isdigit() and len(value) < 9 else 0


def _is_b_leg(variables: dict, profiles: list[dict]) -> bool:
    """mod_json_cdr's own test (switch_channel_get_originator_caller_profile): a B leg's caller
    profile names the originator; FreeSWITCH also sets originating_leg_uuid on the legs it originates
    (some dialplans export it from the A leg, where it is the A leg's own uuid)."""
    originating = variables.get("originating_leg_uuid")
    return any("originator" in profile for profile in profiles) or (
        bool(originating) and originating != variables.get("uuid"))


def _dialled(profiles: list[dict], variables: dict) -> str:
    """What the caller dialled: the first caller profile (the lowest profile_index) holds the number
    as it arrived; later ones hold where the dialplan transferred it."""
    for profile in reversed(profiles):
        found = text(profile, "destination_number")
        if found:
            return found
    found = text(variables, "sip_req_user")
    if found:
        return found
    raise BadField("variables.destination_number", "missing (nor in a caller profile, nor sip_req_user)")
