"""The records alerts write, as pure functions: an event on `alerts` (CONTRACT v3), a block on
`alert_blocks`, and the ClickHouse row of an event."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import orjson

from pipeline.alerts.scope import target_key
from pipeline.schemas.alerts import AlertIn

BLOCKED, LIFTED = "blocked", "lifted"


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_event(alert: AlertIn, target: str, state: str, value: Decimal, window: tuple[float, float],
                at_seconds: float) -> dict:
    return {
        "alert": alert.id,
        "target": target,
        "state": state,
        "metric": alert.metric,
        "value": str(value),
        "threshold": str(alert.threshold if state == "fired" else alert.clears_at),
        "window_start": iso(window[0]),
        "window_end": iso(window[1]),
        "at": iso(at_seconds),
        # beyond the contract's fields, so a reader needs no lookup: who owns it and what it does
        "owner": alert.owner,
        "action": alert.action,
    }


def event_message(event: dict) -> tuple[bytes, bytes]:
    return target_key(event["alert"], event["target"]).encode(), orjson.dumps(event)


def block_message(alert_id: str, account: str, state: str, by: str, at_seconds: float) -> tuple[bytes, bytes]:
    """`alert_blocks`, key ALERT/ACCOUNT: the last value says whether that alert still blocks him.
    `by`: "alert" (fired), "cleared" (lifted by the alert clearing), or who lifted it by hand."""
    value = {"alert": alert_id, "account": account, "state": state, "by": by, "at": iso(at_seconds)}
    return target_key(alert_id, account).encode(), orjson.dumps(value)


def event_row(event: dict) -> dict:
    """An event as a row of ClickHouse `alert_events` (migration 0007)."""
    def moment(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).replace(tzinfo=None)

    return {
        "alert": event["alert"],
        "target": event["target"],
        "state": event["state"],
        "metric": event["metric"],
        "value": Decimal(event["value"]),
        "threshold": Decimal(event["threshold"]),
        "window_start": moment(event["window_start"]),
        "window_end": moment(event["window_end"]),
        "at": moment(event["at"]),
        "owner": event.get("owner", ""),
        "action": event.get("action", ""),
    }
