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
from pipeline.api.block_reason import LiveBalances, current_state, reason_text
from pipeline.api.errors import NotFound, Refused
from pipeline.api.models import check_day
from pipeline.api.queries import Period
from pipeline.api.rates_upload import RatesRefused, parse_rates
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller, Scope
from pipeline.invoices.issuer import IssuerDetails, PrefixTaken, check_logo
from pipeline.invoices.prefixes import check_prefix, prefix_holders
from pipeline.reference.decks import parse_mapping
from pipeline.reference.publish import WriteRefused, check_write
from pipeline.reference.records import Record
from pipeline.rerate.scope import ScopeError
from pipeline.schemas.payment import PaymentIn
from pipeline.schemas.reference import AccountIn, DidIn, ProviderIn, TariffIn
from pipeline.schemas.validation_errors import describe_validation_error

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
    if existing is not None and fields.get("archived") is None:  # archiving is an act of its own
        fields = {**fields, "archived": existing.archived}
    if existing is not None and fields.get("allow_own_domain") is None:  # a portal form without the box
        fields = {**fields, "allow_own_domain": existing.allow_own_domain}
    record = parse_record("account", {k: v for k, v in fields.items() if v is not None or k == "credit_limit"}
                          | {"id": account_id})
    await write(backend, caller, [record], "put account")
    return record


# tariffs ----------------------------------------------------------------------------------------

def tariff(backend: Backend, caller: Caller, tariff_id: str) -> TariffIn:
    found = backend.live.book.tariff(tariff_id)
    return shown(found, view.sees_tariff(caller, backend.live.book, found))


def tariffs(backend: Backend, caller: Caller, include_archived: bool = False) -> list[TariffIn]:
    """The tariffs the caller sees; archived ones only when asked (they are given to nothing new)."""
    book = backend.live.book
    return sorted((t for t in book.tariffs() if view.sees_tariff(caller, book, t)
                   and (include_archived or not t.archived)), key=lambda t: t.id)


def rate_count(backend: Backend, tariff_id: str) -> int:
    index = backend.live.book.tariff_index(tariff_id)
    return len(index) if index is not None else 0


async def put_tariff(backend: Backend, caller: Caller, tariff_id: str, fields: dict[str, Any]) -> TariffIn:
    existing = backend.live.book.tariff(tariff_id)
    hidden = existing is not None and not view.sees_tariff(caller, backend.live.book, existing)
    if existing is not None and fields.get("archived") is None:  # archiving is an act of its own
        fields = {**fields, "archived": existing.archived}
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
                    rates: tuple | None = None, layout: str | None = None, mapping: list[str] | None = None,
                    rating_plan: str | None = None) -> TariffIn:
    """Replaces every rate of an existing tariff with the CSV's (`rates`: already parsed from it),
    or with a deck's in another `layout` (pipeline/reference/decks; `mapping`: COLUMN=FIELD items)."""
    header = tariff(backend, caller, tariff_id)
    if rates is None:
        try:  # in a child process: seconds of CPU for a big file
            rates = await parse_rates(data, layout, parse_mapping(mapping or []), rating_plan)
        except (RatesRefused, ValueError) as exc:  # ValueError: a --map item that is not COLUMN=FIELD
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
    """`fields` as sent: `reseller` and `user` say the assignment (absent or null: none; a reseller's
    own DID stays his). What the body leaves out is kept: `rates` (the admin's: a reseller cannot
    send them changed anyway), `tariff`, and `owner_rate` while the DID stays with the same
    reseller and a user of his (an explicit null drops it)."""
    existing = backend.live.book.did(number)
    if not caller.is_admin and not view.sees_did(caller, existing):
        raise NotFound()  # only the admin creates DIDs; a reseller assigns his own
    given = set(fields)
    fields = {k: v for k, v in fields.items() if v is not None}
    if caller.role == "reseller":
        fields.setdefault("reseller", caller.account)
    if existing is not None:
        fields.setdefault("tariff", existing.tariff)
        if "rates" not in given:
            fields["rates"] = existing.rates
        keeps_owner = fields.get("user") is not None and fields.get("reseller") == existing.reseller
        if "owner_rate" not in given and existing.owner_rate is not None and keeps_owner:
            fields["owner_rate"] = existing.owner_rate
    fields = {k: v for k, v in fields.items() if v is not None}
    record = parse_record("did", {**fields, "number": number})
    await write(backend, caller, [record], "put did")
    return record


# money ------------------------------------------------------------------------------------------

async def pay(backend: Backend, caller: Caller, account_id: str, amount: str, payment_id: str | None,
              kind: str = "payment", reason: str = "") -> dict:
    """A payment, refund or correction (pipeline/schemas/payment.py) by the account's parent: the
    admin for anyone, a reseller for his users. A reseller's own balance is topped up by the admin."""
    target = account(backend, caller, account_id)
    if caller.role == "user" or target.id == caller.account:
        raise Refused(f'account: {caller.role} "{caller.account}" may not record payments for "{target.id}"; '
                      "payments come from the account's parent")
    if target.type == "admin":
        raise Refused("account: the admin has no balance")
    try:  # the payment stage's own rule: what it would refuse as bad_payment never gets a 201
        checked = PaymentIn.model_validate({"id": payment_id or str(uuid.uuid4()), "account": target.id,
                                            "amount": amount, "kind": kind, "reason": reason})
    except ValidationError as exc:
        raise Refused(describe_validation_error(exc)) from None
    refund_problem = refund_limit(checked, backend.live.balance(target.id),
                                  backend.live.held.get(target.id, Decimal(0)))
    if refund_problem:
        raise Refused(refund_problem)
    payment = checked.published()
    await backend.writer.publish_payment(payment)
    await audit(backend, caller, checked.kind, f"account {target.id}",
                f"{payment['id']} {checked.delta}" + (f" {checked.reason}" if checked.reason else ""))
    return payment


def refund_limit(payment: PaymentIn, balance: Decimal, held: Decimal = Decimal(0)) -> str | None:
    """A refund gives back unused credit: at most the balance as this instance sees it now, less
    what running calls hold of it. (The pipeline applies an accepted refund exactly as given: a call
    ending in between may leave the balance a little lower, as any call may.) Corrections have no
    such limit: they fix booking errors, either way."""
    unused = balance - held
    if payment.kind == "refund" and payment.amount > unused:
        held_words = f" less {held} held by running calls" if held else ""
        return (f"amount: a refund gives back unused credit, at most the balance {balance}{held_words} of "
                f'"{payment.account}" (got "{payment.amount}"); use kind "correction" to fix a booking error')
    return None


def balance(backend: Backend, caller: Caller, account_id: str) -> dict:
    found = account(backend, caller, account_id)
    if found.type == "admin":
        raise NotFound()
    tariff_header = backend.live.book.tariff(found.tariff) if found.tariff else None
    # the switch's state, and why as true now (the guard's recorded reason may be that of the flip)
    balances = LiveBalances(backend.live.balances)
    state, reason = current_state(backend.live.book, balances, found, backend.live.states.get(found.id))
    return {"account": found.id, "balance": str(backend.live.balance(found.id)),
            "currency": tariff_header.currency if tariff_header else "EUR", "state": state, "reason": reason,
            "reason_text": reason_text(caller, backend.live.book, balances, found, reason),
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
