"""What each request does, shared by the JSON API and the portal: visibility first (404 for
anything outside the caller's view), then the write rules (writes.py), then the publish, then the
audit record. Routes only translate HTTP to these calls."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from pipeline.api import visibility as view
from pipeline.api.errors import NotFound, Refused
from pipeline.api.models import check_day
from pipeline.api.queries import Period
from pipeline.api.rates_upload import RatesRefused, parse_rates
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller, Scope
from pipeline.api.writes import WriteRefused, check_write
from pipeline.cdr.decode import describe_validation_error
from pipeline.rating.book import Record
from pipeline.rating.reference import AccountIn, DidIn, ProviderIn, TariffIn
from pipeline.schemas.payment import PaymentIn

MAX_PERIOD_DAYS = 400
MODELS = {"account": AccountIn, "tariff": TariffIn, "provider": ProviderIn, "did": DidIn}


def parse_record(kind: str, fields: dict[str, Any]) -> Record:
    try:
        return MODELS[kind].model_validate({**fields, "kind": kind})
    except ValidationError as exc:
        raise Refused(describe_validation_error(exc)) from None


async def write(backend: Backend, caller: Caller, records: list[Record], action: str) -> None:
    try:
        check_write(backend.live.book, records, caller.account)
    except WriteRefused as exc:
        raise Refused(str(exc)) from None
    await backend.writer.publish_reference(records)
    await audit(backend, caller, action, ", ".join(f"{r.kind} {r.id}" for r in records))


async def audit(backend: Backend, caller: Caller, action: str, target: str, detail: str = "") -> None:
    await backend.writer.audit({"at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                                "actor": caller.account, "role": caller.role, "action": action,
                                "target": target, "detail": detail})


# accounts ---------------------------------------------------------------------------------------

def shown(found, visible: bool):
    """The record when the caller may see it; NotFound (as if missing) otherwise."""
    if not visible:
        raise NotFound()
    return found


def account(backend: Backend, caller: Caller, account_id: str) -> AccountIn:
    found = backend.live.book.account(account_id)
    return shown(found, view.sees_account(caller, found))


async def put_account(backend: Backend, caller: Caller, account_id: str, fields: dict[str, Any]) -> AccountIn:
    existing = backend.live.book.account(account_id)
    if existing is not None and not view.sees_account(caller, existing):
        raise NotFound()
    if caller.role == "reseller" and fields.get("parent") is None:
        fields = {**fields, "parent": caller.account}  # a reseller's new account is his user
    if caller.role == "reseller" and existing is not None and fields.get("server") is None:
        # the switch is the admin's to choose (ownership._server_rule): a reseller's write that
        # leaves it out (his portal form has no such field) keeps it rather than resetting it
        fields = {**fields, "server": existing.server}
    record = parse_record("account", {k: v for k, v in fields.items() if v is not None or k == "credit_limit"}
                          | {"id": account_id})
    await write(backend, caller, [record], "put account")
    return record


# tariffs ----------------------------------------------------------------------------------------

def tariff(backend: Backend, caller: Caller, tariff_id: str) -> TariffIn:
    found = backend.live.book.tariff(tariff_id)
    return shown(found, view.sees_tariff(caller, backend.live.book, found))


def tariffs(backend: Backend, caller: Caller) -> list[TariffIn]:
    book = backend.live.book
    return sorted((t for t in book.tariffs() if view.sees_tariff(caller, book, t)), key=lambda t: t.id)


def rate_count(backend: Backend, tariff_id: str) -> int:
    index = backend.live.book.tariff_index(tariff_id)
    return len(index) if index is not None else 0


async def put_tariff(backend: Backend, caller: Caller, tariff_id: str, fields: dict[str, Any]) -> TariffIn:
    existing = backend.live.book.tariff(tariff_id)
    hidden = existing is not None and not view.sees_tariff(caller, backend.live.book, existing)
    return await _put_owned(backend, caller, "tariff", tariff_id, fields, hidden)


async def _put_owned(backend: Backend, caller: Caller, kind: str, record_id: str, fields: dict[str, Any],
                     hidden: bool) -> Record:
    """A tariff or provider: owned by the caller unless the body says otherwise (the rules decide)."""
    shown(None, not hidden)
    fields = {k: v for k, v in fields.items() if v is not None}
    fields.setdefault("owner", caller.account)
    record = parse_record(kind, {**fields, "id": record_id})
    await write(backend, caller, [record], f"put {kind}")
    return record


async def put_rates(backend: Backend, caller: Caller, tariff_id: str, data: bytes,
                    rates: tuple | None = None) -> TariffIn:
    """Replaces every rate of an existing tariff with the CSV's (`rates`: already parsed from it)."""
    header = tariff(backend, caller, tariff_id)
    if rates is None:
        try:
            rates = await parse_rates(data)  # in a child process: seconds of CPU for a big file
        except RatesRefused as exc:
            raise Refused(str(exc)) from None
    record = header.model_copy(update={"rates": rates})
    await write(backend, caller, [record], f"put {len(rates)} rates")
    return record


# providers and DIDs ------------------------------------------------------------------------------

def provider(backend: Backend, caller: Caller, provider_id: str) -> ProviderIn:
    found = backend.live.book.provider(provider_id)
    return shown(found, view.sees_provider(caller, found))


async def put_provider(backend: Backend, caller: Caller, provider_id: str, fields: dict[str, Any]) -> ProviderIn:
    existing = backend.live.book.provider(provider_id)
    hidden = caller.role == "user" or existing is not None and not view.sees_provider(caller, existing)
    return await _put_owned(backend, caller, "provider", provider_id, fields, hidden)


def did(backend: Backend, caller: Caller, number: str) -> DidIn:
    found = backend.live.book.did(number)
    return shown(found, view.sees_did(caller, found))


def dids(backend: Backend, caller: Caller) -> list[DidIn]:
    book = backend.live.book
    return sorted((d for d in book.dids() if view.sees_did(caller, d)), key=lambda d: d.number)


async def put_did(backend: Backend, caller: Caller, number: str, fields: dict[str, Any]) -> DidIn:
    existing = backend.live.book.did(number)
    if not caller.is_admin and not view.sees_did(caller, existing):
        raise NotFound()  # only the admin creates DIDs; a reseller assigns his own
    fields = {k: v for k, v in fields.items() if v is not None}
    if caller.role == "reseller":
        fields.setdefault("reseller", caller.account)
    record = parse_record("did", {**fields, "number": number})
    await write(backend, caller, [record], "put did")
    return record


# money ------------------------------------------------------------------------------------------

async def pay(backend: Backend, caller: Caller, account_id: str, amount: str, payment_id: str | None) -> dict:
    target = account(backend, caller, account_id)
    if caller.role == "user" or target.id == caller.account:
        raise Refused(f'account: {caller.role} "{caller.account}" may not record payments for "{target.id}"; '
                      "payments come from the account's parent")
    if target.type == "admin":
        raise Refused("account: the admin has no balance")
    try:  # the payment stage's own rule: what it would refuse as bad_payment never gets a 201
        checked = PaymentIn.model_validate({"id": payment_id or str(uuid.uuid4()), "account": target.id,
                                            "amount": amount})
    except ValidationError as exc:
        raise Refused(describe_validation_error(exc)) from None
    payment = {"id": checked.id, "account": checked.account, "amount": str(checked.amount)}
    await backend.writer.publish_payment(payment)
    await audit(backend, caller, "payment", f"account {target.id}", f"{payment['id']} {checked.amount}")
    return payment


def balance(backend: Backend, caller: Caller, account_id: str) -> dict:
    found = account(backend, caller, account_id)
    if found.type == "admin":
        raise NotFound()
    state = backend.live.states.get(found.id, {})
    tariff_header = backend.live.book.tariff(found.tariff) if found.tariff else None
    return {"account": found.id, "balance": str(backend.live.balance(found.id)),
            "currency": tariff_header.currency if tariff_header else "EUR",
            "state": state.get("state", "blocked" if found.blocked else "active"),
            "reason": state.get("reason", "manual" if found.blocked else "ok"),
            **held_and_free(found, backend.live.balance(found.id), backend.live.held.get(found.id, Decimal(0)))}


def held_and_free(account, balance: Decimal, held: Decimal) -> dict:
    """What running calls hold of the balance, and what is left to start calls with (DOMAIN
    "Authorizing a call": None for a postpaid account without a credit limit: unlimited)."""
    if account.billing == "postpaid":
        free = None if account.credit_limit is None else balance + account.credit_limit - held
    else:
        free = balance - held
    return {"held": str(held), "free": None if free is None else str(free)}


def scope(backend: Backend, caller: Caller, account_id: str | None, reseller: str | None = None) -> Scope:
    if account_id is not None:
        account(backend, caller, account_id)  # 404 outside the caller's view
    if reseller is not None:
        found = backend.live.book.account(reseller)
        if not view.sees_account(caller, found) or found.type != "reseller":
            raise NotFound()
        if not caller.is_admin:
            reseller = None  # his own scope already is his tree
    return Scope.of(caller, account_id, reseller)


def period(first, last) -> Period:
    for name, day in (("from", first), ("to", last)):  # the portal's pages come here unchecked
        try:
            check_day(day)
        except ValueError as exc:
            raise Refused(f"{name}: {exc}") from None
    try:
        result = Period(first, last)
    except ValueError as exc:
        raise Refused(f"to: {exc}") from None
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise Refused(f"to: a period is at most {MAX_PERIOD_DAYS} days")
    return result


def manager_only(caller: Caller) -> None:
    """Stats and profit are the admin's and resellers'; for a user they do not exist."""
    if caller.role == "user":
        raise NotFound()



# branding: the reseller's (or the admin's) invoice details and logo ------------------------------

def issuer_details(backend: Backend, caller: Caller) -> dict[str, Any]:
    manager_only(caller)
    return dict(backend.live.issuers.get(caller.account) or {})


async def put_branding(backend: Backend, caller: Caller, fields: dict[str, Any],
                       logo: tuple[bytes, str] | None) -> None:
    """Invoice details (validated by the invoices' own model) and, when given, a checked logo."""
    from pipeline.invoices.issuer import IssuerDetails, PrefixTaken, check_logo
    from pipeline.invoices.prefixes import check_prefix, prefix_holders

    manager_only(caller)
    try:
        details = IssuerDetails.model_validate({**fields, "account": caller.account})
        # another issuer's prefix would give his numbers (and PDF names) to this one's invoices
        check_prefix(details.account, details.number_prefix, prefix_holders(backend.live.issuers))
    except ValidationError as exc:
        raise Refused(describe_validation_error(exc)) from None
    except PrefixTaken as exc:
        raise Refused(str(exc)) from None
    if logo is not None:
        try:
            content_type = check_logo(*logo)
        except ValueError as exc:
            raise Refused(f"logo: {exc}") from None
    try:  # the writer checks again, against issued invoices' prefixes too
        await backend.writer.publish_issuer(details)
    except PrefixTaken as exc:
        raise Refused(str(exc)) from None
    if logo is not None:
        await backend.writer.publish_logo(caller.account, logo[0], content_type)
    await audit(backend, caller, "put branding", f"issuer {caller.account}", "with logo" if logo else "")


async def put_logo(backend: Backend, caller: Caller, account_id: str, data: bytes, content_type: str) -> None:
    """An issuer's logo (a reseller's own, or the admin's for any issuer): a real PNG or SVG of
    at most 256 KiB (pipeline.invoices.logo), else 422; anyone else's account is 404."""
    from pipeline.invoices.issuer import check_logo

    manager_only(caller)
    target = backend.live.book.account(account_id)
    if target is None or not view.sees_account(caller, target) or (
            caller.role != "admin" and account_id != caller.account) or target.type == "user":
        raise NotFound()
    try:
        normalised = check_logo(data, content_type)
    except ValueError as exc:
        raise Refused(f"logo: {exc}") from None
    await backend.writer.publish_logo(account_id, data, normalised)
    await audit(backend, caller, "put logo", f"issuer {account_id}", normalised)


async def rerate(backend: Backend, caller: Caller, first, last, account: str | None, reseller: str | None,
                 dry_run: bool, run_id: str | None) -> dict:
    """The admin's re-rating (pipeline/rerate): for anyone else it does not exist."""
    from pipeline.rerate.scope import ScopeError

    if caller.role != "admin" or backend.rerater is None:
        raise NotFound()
    try:
        result = await backend.rerater.rerate(first, last, account, reseller, dry_run, run_id)
    except ScopeError as exc:
        raise Refused(str(exc)) from None
    if not dry_run:
        await audit(backend, caller, "rerate", f"run {result['id']}", f"{first}..{last} {account or reseller or ''}")
    return result


# invoices ---------------------------------------------------------------------------------------

def _invoice_store(backend: Backend):
    if backend.invoices is None:
        raise NotFound("this installation issues no invoices")
    return backend.invoices


async def invoices(backend: Backend, caller: Caller, account_id: str | None = None) -> list:
    """Invoices of the accounts the caller sees (a user: his own), newest first."""
    if account_id is not None:
        account(backend, caller, account_id)
    found = await _invoice_store(backend).invoices(account=account_id)
    book = backend.live.book
    return sorted((i for i in found if view.sees_account(caller, book.account(i.account))),
                  key=lambda i: i.issued_at, reverse=True)


async def invoice(backend: Backend, caller: Caller, number: str):
    found = await _invoice_store(backend).invoices(number=number)
    visible = [i for i in found if view.sees_account(caller, backend.live.book.account(i.account))]
    return shown(visible[0] if visible else None, bool(visible))


async def issue_invoice(backend: Backend, caller: Caller, account_id: str, period: str):
    """Issued by the account's parent (the admin may issue any): a user issues none, a reseller his
    users' (his own come from the admin)."""
    target = account(backend, caller, account_id)
    if not caller.is_admin and target.parent != caller.account:
        raise Refused(f'account: invoices of "{target.id}" are issued by "{target.parent}", not "{caller.account}"')
    try:
        issued = await _invoice_store(backend).issue(target.id, period)
    except ValueError as exc:  # the invoices' own errors name the account, issuer or rule
        raise Refused(f"period: {exc}" if "period" in str(exc).lower() else str(exc)) from None
    await audit(backend, caller, "issue invoice", f"account {target.id}", f"{period} {issued.number}")
    return issued


async def invoice_pdf(backend: Backend, caller: Caller, number: str) -> tuple[str, bytes]:
    found = await invoice(backend, caller, number)
    return found.number, await _invoice_store(backend).pdf(found)
