"""Who may set which alert (docs/alerts.md: the admin on anything, a reseller only on his
own users), and what an alert must name to be written. Called by the reference write rules
(pipeline.reference.ownership, pipeline.reference.consistency) with their graph, so `ref apply` and
the API refuse the same records with the same sentences.
"""
from __future__ import annotations

from pipeline.reference.graph import RefGraph
from pipeline.schemas.alerts import AlertIn

ADMIN_ID = "admin"


def writer_rule(graph: RefGraph, alert: AlertIn, writer: str) -> str | None:
    """A reseller writes only alerts he owns (and never takes over another's)."""
    if writer == ADMIN_ID:
        return None
    if alert.owner != writer:
        return f'reseller "{writer}" may only write alerts of his own (alert "{alert.id}" names owner "{alert.owner}")'
    old = graph.record("alert", alert.id)
    if old is not None and old.owner != writer:
        return f'reseller "{writer}" may only write alerts of his own: alert "{alert.id}" belongs to "{old.owner}"'
    return None


def consistency_rule(graph: RefGraph, alert: AlertIn) -> str | None:
    """The owner is the admin or a reseller; what the scope names exists and, for a reseller's
    alert, is his: his user, himself as the reseller of reseller_users, a provider he owns."""
    where = f'alert "{alert.id}"'
    owner = graph.account(alert.owner)
    if owner is None or owner.type not in ("admin", "reseller"):
        return f'{where}: owner "{alert.owner}" must be the admin or a reseller'
    scope, by_reseller = alert.scope, owner.type == "reseller"
    if scope.type == "account":
        account = graph.account(scope.id)
        if account is None or account.type == "admin":
            return f'{where}: scope account "{scope.id}" does not exist'
        if by_reseller and (account.type != "user" or account.parent != owner.id):
            return f'{where}: reseller "{owner.id}" may only watch his own users; "{scope.id}" is not one'
    elif scope.type == "reseller_users":
        reseller = graph.account(scope.id)
        if reseller is None or reseller.type != "reseller":
            return f'{where}: scope reseller_users names "{scope.id}", which is no reseller'
        if by_reseller and scope.id != owner.id:
            return f'{where}: reseller "{owner.id}" may only watch his own users, not those of "{scope.id}"'
    elif scope.type == "provider":
        provider = graph.record("provider", scope.id)
        if provider is None:
            return f'{where}: scope provider "{scope.id}" does not exist'
        if by_reseller and provider.owner != owner.id:
            return f'{where}: reseller "{owner.id}" may only watch providers he owns; "{scope.id}" is not his'
    return None
