"""Which alerts a call (or a held call) counts for, and for which target. Pure.

A target is what one alert watches separately (its windows and its fired state are per target):
- `account` X: the calls of X, or of X's users when X is a reseller (one target: X);
- `reseller_users` R: each of R's users on his own (target: the user);
- `all_users`: each user on his own (the admin's: every user; a reseller's: his users), optionally
  only the prepaid or the postpaid ones;
- `provider` P: the calls P terminated (target: P);
- `prefix`: each user on his own, counting only his calls to the prefix (toll fraud: one hacked
  account calling premium numbers), the users of the alert's owner when he is a reseller.
So a `block` always names an account: the target itself.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pipeline.schemas.alerts import CALL_METRICS, AlertIn

ADMIN_ID = "admin"


@dataclass(frozen=True, slots=True)
class Match:
    alert: AlertIn
    target: str
    level: str  # whose price the window sums: "user", "reseller" or "provider"


class AlertIndex:
    """The enabled alerts of one kind of input, indexed so a call costs a few dict lookups however
    many alerts there are (bench-alerts: 1,000)."""

    def __init__(self, alerts: Iterable[AlertIn], holds: bool = False) -> None:
        self.by_account: dict[str, list[AlertIn]] = defaultdict(list)
        self.by_reseller: dict[str, list[AlertIn]] = defaultdict(list)  # alerts over one reseller's users
        self.all_users: list[AlertIn] = []
        self.by_provider: dict[str, list[AlertIn]] = defaultdict(list)
        self.by_prefix: dict[str, list[AlertIn]] = defaultdict(list)
        for alert in alerts:
            if not alert.enabled or (alert.metric in CALL_METRICS) == holds:
                continue
            scope = alert.scope
            if scope.type == "account":
                self.by_account[scope.id].append(alert)
            elif scope.type == "reseller_users":
                self.by_reseller[scope.id].append(alert)
            elif scope.type == "all_users":
                (self.all_users if alert.owner == ADMIN_ID else self.by_reseller[alert.owner]).append(alert)
            elif scope.type == "provider":
                self.by_provider[scope.id].append(alert)
            else:
                self.by_prefix[scope.prefix].append(alert)
        self.prefix_lengths = sorted({len(prefix) for prefix in self.by_prefix})

    def __len__(self) -> int:
        return (sum(map(len, self.by_account.values())) + sum(map(len, self.by_reseller.values()))
                + len(self.all_users) + sum(map(len, self.by_provider.values()))
                + sum(map(len, self.by_prefix.values())))

    def matches(self, account: str, reseller: str, provider: str = "", dst: str = "",
                billing_of: Callable[[str], str | None] = lambda account: None) -> list[Match]:
        found: list[Match] = []
        if account:
            for alert in self.by_account.get(account, ()):
                found.append(Match(alert, account, "user"))
            if reseller:
                for alert in self.by_account.get(reseller, ()):
                    found.append(Match(alert, reseller, "reseller"))
                for alert in self.by_reseller.get(reseller, ()):
                    if _billing_fits(alert, account, billing_of):
                        found.append(Match(alert, account, "user"))
            for alert in self.all_users:
                if _billing_fits(alert, account, billing_of):
                    found.append(Match(alert, account, "user"))
            for length in self.prefix_lengths:
                for alert in self.by_prefix.get(dst[:length], ()) if len(dst) >= length else ():
                    if alert.owner == ADMIN_ID or alert.owner == reseller:
                        found.append(Match(alert, account, "user"))
        if provider:
            for alert in self.by_provider.get(provider, ()):
                found.append(Match(alert, provider, "provider"))
        return found


def _billing_fits(alert: AlertIn, account: str, billing_of: Callable[[str], str | None]) -> bool:
    return alert.scope.billing is None or billing_of(account) == alert.scope.billing


def target_key(alert_id: str, target: str) -> str:
    """The key of the alerts topic, the observations and the tables: ALERT_ID/TARGET."""
    return f"{alert_id}/{target}"


def split_key(key: str) -> tuple[str, str]:
    alert_id, _, target = key.partition("/")
    return alert_id, target
