"""What the routing agents make of one input record: the observations, keyed ALERT/TARGET, that
the window agent counts. No Faust here (tested with plain bytes).

An observation is small JSON: `k` its kind ("c" a call, "h" a held or ended call, "tick"), `a`
the alert, `t` the target, `src` the input's [partition, offset] (how a window counts a call once).
"""
from __future__ import annotations

import logging

import orjson

from pipeline.alerts.scope import AlertIndex, target_key
from pipeline.alerts.windows import to_micro
from pipeline.reference.book import ReferenceBook
from pipeline.schemas import wire
from pipeline.schemas.alerts import AlertIn

log = logging.getLogger(__name__)
PRICE_FIELD = {"user": "user_price", "reseller": "reseller_price", "provider": "provider_price"}


class Router:
    """The alert indexes of the current definitions, rebuilt when an alert changes."""

    def __init__(self, book: ReferenceBook) -> None:
        self.book = book
        self._calls: AlertIndex | None = None
        self._holds: AlertIndex | None = None

    def alerts_changed(self, kind: str = "alert", ident: str = "") -> None:
        if kind == "alert":
            self._calls = self._holds = None

    @property
    def calls(self) -> AlertIndex:
        if self._calls is None:
            self._calls = AlertIndex(self.book.alerts())
        return self._calls

    @property
    def holds(self) -> AlertIndex:
        if self._holds is None:
            self._holds = AlertIndex(self.book.alerts(), holds=True)
        return self._holds

    def alert(self, alert_id: str) -> AlertIn | None:
        return self.book.alert(alert_id)

    def _billing(self, account_id: str) -> str | None:
        account = self.book.account(account_id)
        return None if account is None else account.billing

    def of_call(self, value: bytes, partition: int, offset: int) -> list[tuple[bytes, bytes]]:
        """A cdr.rated record -> observations (none when no alert watches it)."""
        index = self.calls
        if not len(index):
            return []
        try:
            call = wire.decode("rated_call.v1", value, datetimes=False)  # JSON or Avro
            matches = index.matches(call.get("account") or "", call.get("reseller") or "",
                                    call.get("provider") or "", call.get("dst") or "", self._billing)
        except Exception as exc:  # noqa: BLE001 - one unreadable record must not stop the alerts
            log.warning("alerts: skipping unreadable cdr.rated[%d]@%d: %s", partition, offset, exc)
            return []
        out = []
        billsec = int(call.get("billsec") or 0)
        answered = billsec > 0
        for match in matches:
            price = to_micro(call.get(PRICE_FIELD[match.level]) or "0")
            observation = {"k": "c", "a": match.alert.id, "t": match.target, "src": [partition, offset],
                           "ans": answered, "bs": billsec, "pr": price,
                           "sh": answered and billsec < match.alert.short_seconds}
            out.append((target_key(match.alert.id, match.target).encode(), orjson.dumps(observation)))
        return out

    def of_hold(self, value: bytes, partition: int, offset: int) -> list[tuple[bytes, bytes]]:
        """An auth.holds event -> observations of simultaneous calls."""
        index = self.holds
        if not len(index):
            return []
        try:
            event = orjson.loads(value)
            account, call, state = event["account"], event["call"], event["state"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            log.warning("alerts: skipping unreadable auth.holds[%d]@%d: %s", partition, offset, exc)
            return []
        reseller = next((a.id for a in self.book.ancestors(account) if a.type == "reseller"), "")
        out = []
        for match in index.matches(account, reseller, billing_of=self._billing):
            observation = {"k": "h", "a": match.alert.id, "t": match.target, "call": call, "st": state,
                           "src": [partition, offset]}
            out.append((target_key(match.alert.id, match.target).encode(), orjson.dumps(observation)))
        return out
