"""A reseller's own portal domain: who may set it, and who may sign in on it.

A domain record on `ref.credentials` (`domain:HOST` -> the reseller, credentials.domain_record)
makes HOST the reseller's portal: its login page shows his brand, and only he and his users may
sign in there (a session of anyone else is not honoured on it either). The admin sets any
reseller's domains; a reseller sets his own only when the admin allows it (`allow_own_domain` on
his account). A host is one account's at a time; what is outside a caller's reach answers 404, as
anything of another tenant does.
"""
from __future__ import annotations

import re

from pipeline.api import service
from pipeline.api.credentials import DOMAIN_KEY, domain_record, normalise_host
from pipeline.api.errors import NotFound, Refused
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller

MAX_DOMAINS_PER_RESELLER = 10
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def check_host(text: str) -> str:
    """A DNS name as the Host header carries it (lower case, no port): at least two labels of
    letters, digits and inner hyphens, not an IP address. Raises ValueError saying what is wrong."""
    host = normalise_host(text).rstrip(".")
    if not host or len(host) > 253:
        raise ValueError(f'host: a domain name of 1-253 characters (got "{text[:80]}")')
    labels = host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f'host: a domain name like portal.example.com: letters, digits, "-" and "." '
                         f'(got "{text[:80]}")')
    if labels[-1].isdigit():
        raise ValueError(f'host: a domain name, not an IP address (got "{text[:80]}")')
    return host


def tenant_of_host(backend: Backend, host: str) -> str | None:
    """The reseller whose portal this host is, or None (the installation's own portal)."""
    return backend.live.credentials.domains.get(normalise_host(host))


def may_sign_in_here(book, domains: dict[str, str], host: str, account_id: str) -> bool:
    """On a reseller's domain only he and his users sign in; anywhere else, anyone."""
    tenant = domains.get(normalise_host(host))
    if tenant is None or account_id == tenant:
        return True
    account = book.account(account_id)
    return account is not None and account.type == "user" and account.parent == tenant


def may_manage(caller: Caller, book, reseller_id: str) -> bool:
    """Whether the caller sets this reseller's domains: the admin always, the reseller himself
    when the admin allows it."""
    if caller.is_admin:
        return True
    own = book.account(caller.account)
    return caller.role == "reseller" and reseller_id == caller.account and own is not None and own.allow_own_domain


def domains(backend: Backend, caller: Caller, account_id: str | None = None) -> list[dict[str, str]]:
    """The domains the caller sees (the admin all, a reseller his own), optionally of one account."""
    service.manager_only(caller)
    mapping = backend.live.credentials.domains
    return [{"host": host, "account": account} for host, account in sorted(mapping.items())
            if (caller.is_admin or account == caller.account) and account_id in (None, account)]


def _reachable(backend: Backend, caller: Caller, host: str) -> str:
    """The checked host, when the caller may act on it at all; NotFound otherwise (a reseller who
    may not set domains, or a host that is another tenant's, look alike)."""
    service.manager_only(caller)
    if not may_manage(caller, backend.live.book, caller.account):
        raise NotFound("no such portal domain (the operator sets this account's portal domains)")
    try:
        host = check_host(host)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    holder = tenant_of_host(backend, host)
    if holder is not None and not caller.is_admin and holder != caller.account:
        raise NotFound()
    return host


async def set_domain(backend: Backend, caller: Caller, host: str, account_id: str) -> dict[str, str]:
    host = _reachable(backend, caller, host)
    target = service.account(backend, caller, account_id)  # 404 outside the caller's view
    if target.type != "reseller":
        raise Refused(f'account: a portal domain is a reseller\'s; "{target.id}" is a {target.type}')
    if not may_manage(caller, backend.live.book, target.id):
        raise NotFound()
    holder = tenant_of_host(backend, host)
    if holder is not None and holder != target.id:
        raise Refused(f'host: "{host}" is the portal domain of "{holder}"; remove it there first')
    held = [d for d in domains(backend, caller, target.id) if d["host"] != host]
    if len(held) >= MAX_DOMAINS_PER_RESELLER:
        raise Refused(f"host: a reseller has at most {MAX_DOMAINS_PER_RESELLER} portal domains")
    await backend.writer.publish_credential(*domain_record(host, target.id))
    await service.audit(backend, caller, "set portal domain", f"account {target.id}", host)
    return {"host": host, "account": target.id}


async def remove_domain(backend: Backend, caller: Caller, host: str) -> None:
    host = _reachable(backend, caller, host)
    holder = tenant_of_host(backend, host)
    if holder is None:
        raise NotFound()
    await backend.writer.publish_credential(DOMAIN_KEY + host, None)
    await service.audit(backend, caller, "remove portal domain", f"account {holder}", host)
