"""Invoices a manager sends (the rules: pipeline/api/invoice_mail.py).

- `POST /v1/invoices/{number}/email` (`{"to"?}`): the invoice's issuer (or the admin) sends it to the
  account's e-mail, or to `to`; 201 with the delivery when sent, 502 when the SMTP server refused or
  could not be reached (recorded all the same), 503 when the installation has no SMTP server.
- `GET /v1/invoices/{number}/deliveries`: every send of an invoice the caller sees, oldest first.
- `POST /v1/invoices/bulk` (`{"period", "skip_empty"?, "email"?}`): every invoice the caller issues for
  the period (a reseller: each of his users'), those issued before returned as they are; with
  `email`, each not sent before is e-mailed.
The portal's invoices page has the same: an "E-mail" button per invoice, an "Invoice all my users"
form, and the log of sends.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import Field

from pipeline.api.auth import api_caller, backend_of
from pipeline.api.errors import Refused
from pipeline.api.invoice_mail import MailFailed, MailUnavailable, bulk_issue, deliveries, email_invoice
from pipeline.api.models import _Body
from pipeline.api.portal import manager, posted, redirect
from pipeline.api.portal_reports import invoices_page_response
from pipeline.api.routes_v1 import invoice_json
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller

router = APIRouter()
CallerDep = Annotated[Caller, Depends(api_caller)]
BackendDep = Annotated[Backend, Depends(backend_of)]


class EmailBody(_Body):
    to: Annotated[str, Field(max_length=254)] | None = None


class BulkBody(_Body):
    period: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM")
    skip_empty: bool = False
    email: bool = False


PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
NO_SMTP = {503: {"description": "this installation has no SMTP server (RATING_SMTP_HOST)", "content": PROBLEM}}
SMTP_FAILED = {502: {"description": "the SMTP server refused the message or could not be reached; recorded",
                     "content": PROBLEM}}


def delivery_json(delivery) -> dict:
    return delivery.model_dump(mode="json")


# JSON API -----------------------------------------------------------------------------------------

@router.post("/v1/invoices/bulk", status_code=201, tags=["invoices"], responses=NO_SMTP)
async def post_bulk(body: BulkBody, caller: CallerDep, backend: BackendDep) -> dict:
    """Every invoice the caller issues for the period; with `email`, each new one e-mailed."""
    result = await bulk_issue(backend, caller, body.period, body.skip_empty, body.email)
    return {**result, "issued": [invoice_json(i) for i in result["issued"]],
            "emailed": [delivery_json(d) for d in result["emailed"]]}


@router.post("/v1/invoices/{number}/email", status_code=201, tags=["invoices"], responses={**NO_SMTP, **SMTP_FAILED})
async def post_email(number: str, body: EmailBody, caller: CallerDep, backend: BackendDep) -> dict:
    """The invoice's PDF by e-mail to its account (or `to`), sent by its issuer; every attempt is recorded."""
    delivery = await email_invoice(backend, caller, number, body.to)
    if delivery.result != "sent":
        raise MailFailed(f"invoice {delivery.number} to {delivery.to}: not sent ({delivery.detail}); "
                         "the attempt is recorded")
    return delivery_json(delivery)


@router.get("/v1/invoices/{number}/deliveries", tags=["invoices"])
async def get_deliveries(number: str, caller: CallerDep, backend: BackendDep) -> list[dict]:
    """Every e-mail of the invoice: when, to whom, sent or failed (and why)."""
    return [delivery_json(d) for d in await deliveries(backend, caller, number)]


# portal -------------------------------------------------------------------------------------------

@router.post("/invoices/{number}/email", include_in_schema=False)
async def portal_email(request: Request, number: str) -> Response:
    caller, csrf = manager(request)
    form = await posted(request, csrf)
    try:
        delivery = await email_invoice(backend_of(request), caller, number, str(form.get("to", "")).strip() or None)
    except (Refused, MailUnavailable) as exc:
        return await invoices_page_response(request, caller, csrf, exc.status, mail_error=exc.detail)
    if delivery.result != "sent":
        return await invoices_page_response(request, caller, csrf, 502, mail_error=(
            f"{delivery.number} to {delivery.to}: not sent ({delivery.detail})"))
    return redirect("/invoices?done=emailed")


@router.post("/invoices/bulk", include_in_schema=False, response_class=HTMLResponse)
async def portal_bulk(request: Request) -> Response:
    caller, csrf = manager(request)
    form = await posted(request, csrf)
    try:
        result = await bulk_issue(backend_of(request), caller, str(form.get("period", "")).strip(),
                                  form.get("skip_empty") == "on", form.get("email") == "on")
    except (Refused, MailUnavailable) as exc:
        return await invoices_page_response(request, caller, csrf, exc.status, error=exc.detail)
    return await invoices_page_response(request, caller, csrf, bulk=result)
