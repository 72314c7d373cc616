"""A RatedCall from the engine -> the wide record of cdr.rated (rated_call.v1.avsc)."""
from __future__ import annotations

import json
from datetime import datetime

import orjson

from pipeline.rating.chain import Leg, RatedCall
from pipeline.rating.rated_call import DidLegs
from pipeline.schemas.cdr import CdrIn

FIRST_RATING = 1  # `version` of a call's first rating; a re-rating that changes it adds 1 (pipeline/rerate)
NO_DID_FIELDS = {"did_owner": "", "did_incoming_price": "0", "did_owner_price": "0",
                 "did_reseller_owner_price": "0", "did_provider_price": "0"}


def rated_record(rated: RatedCall, cdr: CdrIn, rated_at: datetime, version: int = FIRST_RATING,
                 rerate_id: str = "") -> dict:
    record = {
        "server_id": cdr.server_id,
        "call_id": cdr.call_id,
        "account": cdr.account,
        "reseller": rated.reseller_id,
        "provider": cdr.provider or "",
        "src": cdr.src,
        "dst": cdr.dst,
        "did": cdr.did or "",
        "start_time": cdr.start_time,
        "billsec": cdr.billsec,
        "disposition": cdr.disposition,
        "reseller_profit": str(rated.reseller_profit),
        "admin_profit": str(rated.admin_profit),
        "own_provider": rated.own_provider,
        "currency": rated.currency,
        "loss": rated.loss,
        "rated_at": rated_at,
        "extra": _extra_json(_kept_fields(cdr)),
        "version": version,
        "rerate_id": rerate_id,
        "segment": cdr.segment or "",
    }
    for level, leg in (("user", rated.user), ("reseller", rated.reseller), ("provider", rated.provider)):
        record.update(_leg_fields(level, leg))
    record.update(NO_DID_FIELDS if rated.did is None else _did_fields(rated.did))
    return record


def _did_fields(did: DidLegs) -> dict:
    return {
        "did": did.number,  # the DID as the book knows it (digits only)
        "did_owner": did.owner,
        "did_incoming_price": str(did.incoming_price),
        "did_owner_price": str(did.owner_price),
        "did_reseller_owner_price": str(did.reseller_owner_price),
        "did_provider_price": str(did.provider_price),
    }


def _kept_fields(cdr: CdrIn) -> dict:
    """The CDR's unknown fields, and its `device` as the switch gave it: rated_calls has no column
    for it, and a re-rating reads the CDR back from `extra` (pipeline/rerate/reprice.py)."""
    extra = cdr.extra_fields()
    if cdr.device is not None:
        extra["device"] = cdr.device.model_dump(exclude_none=True)
    return extra


def _extra_json(extra: dict) -> str:
    try:
        return orjson.dumps(extra, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):  # integers wider than 64 bits, and the like
        return json.dumps(extra, default=str)


def _leg_fields(level: str, leg: Leg | None) -> dict:
    if leg is None:
        return {
            f"{level}_tariff": "", f"{level}_prefix": "", f"{level}_billed_seconds": 0,
            f"{level}_rate": "0", f"{level}_price": "0",
        }
    return {
        f"{level}_tariff": leg.tariff,
        f"{level}_prefix": leg.prefix,
        f"{level}_billed_seconds": leg.billed_seconds,
        f"{level}_rate": str(leg.rate),
        f"{level}_price": str(leg.price),
    }
