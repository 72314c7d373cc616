"""Invoices a manager sends, the rules: e-mail with the PDF attached (by the invoice's issuer), the
record of every send, and issuing all of one's own invoices of a period at once. The API's and the
portal's routes are pipeline/api/routes_invoice_mail.py; the portal's invoices page reads
`mail_context`.
"""
from __future__ import annotations

from typing import Any

from pipeline.api import service
from pipeline.api.errors import ApiError, NotFound, Refused
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller
from pipeline.invoices.deliveries import last_by_number
from pipeline.invoices.directory import InvoiceError
from pipeline.invoices.mail import MailNotConfigured

MAIL_LOG_ROWS = 20  # the portal's log of sends: the latest ones


class MailUnavailable(ApiError):
    """No SMTP server is configured: nothing the caller did, and nothing sent."""
    status, title = 503, "Service Unavailable"


class MailFailed(ApiError):
    """The SMTP server refused the message or could not be reached; the attempt is recorded."""
    status, title = 502, "Bad Gateway"


# the rules ----------------------------------------------------------------------------------------

def _store(backend: Backend):
    store = backend.invoices
    if store is None or not hasattr(store, "email"):
        raise NotFound("this installation sends no invoices by e-mail")
    return store


def _mail_ready(store) -> None:
    if not store.mail_ready:
        raise MailUnavailable("this installation sends no e-mail: its operator sets RATING_SMTP_HOST "
                              "(and _PORT, _USER, _PASSWORD, _FROM, _STARTTLS)")


async def email_invoice(backend: Backend, caller: Caller, number: str, to: str | None):
    """Sent by the invoice's issuer (or the admin); a user, or the invoiced reseller, sends none."""
    invoice = await service.invoice(backend, caller, number)  # 404 outside the caller's view
    if not (caller.is_admin or invoice.issuer == caller.account):
        raise Refused(f'invoice {invoice.number} is issued by "{invoice.issuer}": only its issuer e-mails it')
    store = _store(backend)
    _mail_ready(store)
    try:
        delivery = await store.email(invoice, to or None, caller.account)
    except InvoiceError as exc:
        raise Refused(str(exc)) from None
    except MailNotConfigured as exc:
        raise MailUnavailable(str(exc)) from None
    await service.audit(backend, caller, "e-mail invoice", f"invoice {invoice.number}",
                        f"{delivery.to} {delivery.result}")
    return delivery


async def deliveries(backend: Backend, caller: Caller, number: str) -> list:
    invoice = await service.invoice(backend, caller, number)
    return await _store(backend).deliveries([invoice.number])


async def bulk_issue(backend: Backend, caller: Caller, period: str, skip_empty: bool, email: bool) -> dict[str, Any]:
    """Every invoice the caller issues for the period, and (asked) each new one e-mailed."""
    service.manager_only(caller)
    store = _store(backend)
    if email:
        _mail_ready(store)  # before issuing: "issue and send" is refused whole, not half done
    try:
        issued = await store.issue_all(caller.account, period, skip_empty)
    except ValueError as exc:  # the invoices' own errors: the period, missing invoice details
        raise Refused(f"period: {exc}" if "period" in str(exc).lower() else str(exc)) from None
    await service.audit(backend, caller, "issue invoices", f"issuer {caller.account}", f"{period} {len(issued)}")
    result: dict[str, Any] = {"period": period, "issued": issued, "emailed": [], "not_emailed": []}
    if email:
        outcome = await store.email_new(issued, caller.account)
        result["emailed"] = outcome.deliveries
        result["not_emailed"] = [{"number": number, "reason": reason} for number, reason in outcome.skipped]
        await service.audit(backend, caller, "e-mail invoices", f"issuer {caller.account}",
                            f"{period} sent {sum(d.result == 'sent' for d in outcome.deliveries)}")
    return result


async def mail_context(backend: Backend, caller: Caller, invoices: list) -> dict[str, Any]:
    """What the portal's invoices page shows of e-mail: whether it can send, each invoice's last send,
    and the latest sends of the invoices the caller sees."""
    store = backend.invoices
    if store is None or not hasattr(store, "deliveries"):
        return {"mail_ready": False, "last_sent": {}, "mail_log": []}
    numbers = [i.number for i in invoices]
    sent = await store.deliveries(numbers) if numbers else []
    return {"mail_ready": store.mail_ready, "last_sent": last_by_number(sent),
            "mail_log": sorted(sent, key=lambda d: d.at, reverse=True)[:MAIL_LOG_ROWS]}


def delivery_json(delivery) -> dict:
    return delivery.model_dump(mode="json")
