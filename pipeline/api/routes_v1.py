"""JSON API under /v1 (docs/contract.md "The HTTP API"). Thin: HTTP in, service.py, HTTP out."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response

from pipeline.api import logins, service
from pipeline.api.auth import api_caller, backend_of
from pipeline.api.calls_view import API_NAMES, check_filter
from pipeline.api.csv_export import to_csv
from pipeline.api.models import (
    Account,
    AccountBody,
    Balance,
    CallsPage,
    Day,
    Did,
    DidBody,
    Invoice,
    InvoiceBody,
    Payment,
    PaymentBody,
    ProfitRow,
    Provider,
    ProviderBody,
    Rerate,
    RerateBody,
    StatsRow,
    Tariff,
    TariffBody,
)
from pipeline.api.shape import json_rows, with_asr_acd
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller, visible_accounts

router = APIRouter(prefix="/v1")
CallerDep = Annotated[Caller, Depends(api_caller)]
BackendDep = Annotated[Backend, Depends(backend_of)]
AccountId = Annotated[str, Query(min_length=1, max_length=200, description="one visible account; empty is refused")]
Id = Annotated[str, Query(min_length=1, max_length=200)]
From = Annotated[Day, Query(alias="from", description="first UTC day, included")]
To = Annotated[Day, Query(alias="to", description="last UTC day, included")]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}
MAX_CSV_ROWS = 100_000
IncludeArchived = Annotated[bool, Query(description="archived records too (hidden by default)")]


def account_json(account) -> dict:
    return account.model_dump(mode="json", exclude={"kind"})


def tariff_json(backend: Backend, tariff) -> dict:
    return {**tariff.model_dump(mode="json", include={"id", "owner", "currency", "timezone", "decimals", "rounding",
                                                      "archived"}),
            "rate_count": service.rate_count(backend, tariff.id)}


@router.get("/accounts", response_model=list[Account], tags=["accounts"])
def list_accounts(caller: CallerDep, backend: BackendDep, include_archived: IncludeArchived = False):
    return [account_json(a) for a in visible_accounts(caller, backend.live.book)
            if include_archived or not a.archived]


@router.get("/accounts/{id}", response_model=Account, tags=["accounts"])
def get_account(id: str, caller: CallerDep, backend: BackendDep):
    return account_json(service.account(backend, caller, id))


@router.put("/accounts/{id}", response_model=Account, tags=["accounts"])
async def put_account(id: str, body: AccountBody, caller: CallerDep, backend: BackendDep):
    """Creates or replaces the account (`archived` is kept when left out); `password`, write-only,
    sets its portal password and signs it out everywhere."""
    fields = body.model_dump(exclude_unset=True)
    password = fields.pop("password", None)
    account = await service.put_account(backend, caller, id, fields)
    if password is not None:
        await logins.set_password(backend, caller, id, password)
    return account_json(account)


@router.get("/tariffs", response_model=list[Tariff], tags=["tariffs"])
def list_tariffs(caller: CallerDep, backend: BackendDep, include_archived: IncludeArchived = False):
    return [tariff_json(backend, t) for t in service.tariffs(backend, caller, include_archived)]


@router.get("/tariffs/{id}", response_model=Tariff, tags=["tariffs"])
def get_tariff(id: str, caller: CallerDep, backend: BackendDep):
    return tariff_json(backend, service.tariff(backend, caller, id))


@router.put("/tariffs/{id}", response_model=Tariff, tags=["tariffs"])
async def put_tariff(id: str, body: TariffBody, caller: CallerDep, backend: BackendDep):
    fields = body.model_dump(exclude_unset=True)
    fields["rates"] = [r.model_dump(exclude_none=True) for r in body.rates]
    return tariff_json(backend, await service.put_tariff(backend, caller, id, fields))


@router.put("/tariffs/{id}/rates", response_model=Tariff, tags=["tariffs"],
            openapi_extra={"requestBody": {"required": True, "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}}}}})
async def put_rates(id: str, request: Request, caller: CallerDep, backend: BackendDep,
                    layout: Literal["generic", "cgrates", "astpp", "a2billing"] | None = None,
                    mapping: Annotated[list[str] | None, Query(alias="map", max_length=64)] = None,
                    rating_plan: Annotated[str | None, Query(max_length=200)] = None):
    """Replaces the tariff's rates with a CSV (columns as in a tariff's rates; 100k+ rows);
    every bad line is listed in the 422 detail. With `layout` the body is a deck as carriers send
    it (a CSV, or a ZIP of a CGRateS plan's files), `map=COLUMN=FIELD` (repeatable) names its
    columns and `rating_plan` picks a CGRateS rating plan, as `rates import` does."""
    return tariff_json(backend, await service.put_rates(backend, caller, id, await request.body(), layout=layout,
                                                        mapping=mapping, rating_plan=rating_plan))


LOGO_BODY = {"requestBody": {"required": True, "content": {
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "image/svg+xml": {"schema": {"type": "string", "format": "binary"}}}}}


@router.put("/accounts/{id}/logo", status_code=204, response_class=Response, tags=["accounts"],
            openapi_extra=LOGO_BODY)
async def put_logo(id: str, request: Request, caller: CallerDep, backend: BackendDep):
    """The logo on this issuer's invoices and portal pages (his users' too): PNG or SVG, at most
    256 KiB, checked to really be one (422 otherwise)."""
    await service.put_logo(backend, caller, id, await request.body(), request.headers.get("content-type", ""))
    return Response(status_code=204)


@router.get("/providers/{id}", response_model=Provider, tags=["providers"])
def get_provider(id: str, caller: CallerDep, backend: BackendDep):
    return service.provider(backend, caller, id).model_dump(mode="json", exclude={"kind"})


@router.put("/providers/{id}", response_model=Provider, tags=["providers"])
async def put_provider(id: str, body: ProviderBody, caller: CallerDep, backend: BackendDep):
    record = await service.put_provider(backend, caller, id, body.model_dump(exclude_unset=True))
    return record.model_dump(mode="json", exclude={"kind"})


@router.get("/dids", response_model=list[Did], tags=["dids"])
def list_dids(caller: CallerDep, backend: BackendDep):
    return [did_json(caller, d) for d in service.dids(backend, caller)]


@router.get("/dids/{number}", response_model=Did, tags=["dids"])
def get_did(number: str, caller: CallerDep, backend: BackendDep):
    return did_json(caller, service.did(backend, caller, number))


@router.put("/dids/{number}", response_model=Did, tags=["dids"])
async def put_did(number: str, body: DidBody, caller: CallerDep, backend: BackendDep):
    fields = body.model_dump(exclude_unset=True)
    for name in ("rates", "owner_rate"):  # rate fields left out take the record's defaults
        if fields.get(name) is not None:
            fields[name] = getattr(body, name).model_dump(exclude_none=True)
    return did_json(caller, await service.put_did(backend, caller, number, fields))


def did_json(caller: Caller, did) -> dict:
    """A DID as the caller may see it: a reseller sees neither the provider rate (what the
    admin's carriers pay the admin) nor anything of another reseller's."""
    shown = did.model_dump(mode="json", exclude={"kind"})
    if not caller.is_admin:
        shown["rates"]["provider"] = None
    return shown


@router.post("/payments", response_model=Payment, status_code=201, tags=["money"])
async def post_payment(body: PaymentBody, caller: CallerDep, backend: BackendDep):
    """A payment, refund or correction, by the account's parent (the admin for anyone, a reseller for
    his users; a reseller's own balance is topped up by the admin). Refused (422) exactly when the
    pipeline would refuse it, and a refund above the balance."""
    return await service.pay(backend, caller, body.account, body.amount, body.id, body.kind, body.reason)


@router.get("/balances/{account}", response_model=Balance, tags=["money"])
def get_balance(account: str, caller: CallerDep, backend: BackendDep):
    return service.balance(backend, caller, account)


@router.get("/calls", response_model=CallsPage, responses=CSV_RESPONSE, tags=["calls"])
def get_calls(caller: CallerDep, backend: BackendDep, first: From, last: To,
              account: AccountId | None = None, reseller: Id | None = None,
              dst_prefix: Annotated[str | None, Query(pattern=r"^[0-9]{1,20}$")] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
              format: Literal["json", "csv"] = "json",
              disposition: Annotated[str | None, Query(max_length=32, description="ANSWERED, NO ANSWER, BUSY, "
                                                       "FAILED or CONGESTION")] = None,
              src_prefix: Annotated[str | None, Query(max_length=64, description="the caller id starts with")] = None,
              min_billsec: Annotated[int | None, Query(ge=0, le=604_800)] = None):
    """Rated calls (FINAL), newest first, with the columns the caller may see; totals over the
    same filters: GET /v1/calls/totals."""
    scope = service.scope(backend, caller, account, reseller)
    period = service.period(first, last)
    filters = check_filter(disposition, src_prefix, min_billsec, API_NAMES)
    if format == "csv":
        table = backend.calls.calls(scope, period, MAX_CSV_ROWS, 0, dst_prefix, filters)
        body = to_csv(table.columns, table.rows[:MAX_CSV_ROWS])
        return PlainTextResponse(body, media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="calls-{first}-{last}.csv"'})
    table = backend.calls.calls(scope, period, limit, offset, dst_prefix, filters)
    rows = json_rows(table)
    more = len(rows) > limit
    return {"columns": list(table.columns), "rows": rows[:limit], "next_offset": offset + limit if more else None}


@router.get("/stats", response_model=list[StatsRow], tags=["calls"])
def get_stats(caller: CallerDep, backend: BackendDep, first: From, last: To,
              by: Literal["day", "destination"] = "destination",
              account: AccountId | None = None, reseller: Id | None = None):
    """Per UTC day (and destination): calls, ASR, ACD, revenue and the caller's profit."""
    service.manager_only(caller)
    scope = service.scope(backend, caller, account, reseller)
    table = backend.calls.stats(scope, service.period(first, last), by == "destination")
    return with_asr_acd(json_rows(table))


@router.get("/profit", response_model=list[ProfitRow], tags=["calls"])
def get_profit(caller: CallerDep, backend: BackendDep, first: From, last: To):
    """Admin: per reseller ('' = his direct users); a reseller: his own totals."""
    service.manager_only(caller)
    return json_rows(backend.calls.profit(service.scope(backend, caller, None), service.period(first, last)))


def invoice_json(invoice) -> dict:
    return {**invoice.printable(), "pdf": f"/v1/invoices/{invoice.number}/pdf"}


@router.post("/rerates", response_model=Rerate, tags=["money"])
async def post_rerate(body: RerateBody, caller: CallerDep, backend: BackendDep):
    """The admin re-rates a period (optionally one account or one reseller's tree) with today's
    reference data; each balance moves by the exact difference once, however often the same id
    runs. `dry_run`: the per-account table only."""
    return await service.rerate(backend, caller, body.first, body.last, body.account, body.reseller,
                                body.dry_run, body.id)


@router.post("/invoices", response_model=Invoice, status_code=201, tags=["invoices"])
async def post_invoice(body: InvoiceBody, caller: CallerDep, backend: BackendDep):
    """The account's invoice of the period, issued by its parent; issuing again returns the same."""
    return invoice_json(await service.issue_invoice(backend, caller, body.account, body.period))


@router.get("/invoices", response_model=list[Invoice], tags=["invoices"])
async def list_invoices(caller: CallerDep, backend: BackendDep, account: AccountId | None = None):
    return [invoice_json(i) for i in await service.invoices(backend, caller, account)]


@router.get("/invoices/{number}", response_model=Invoice, tags=["invoices"])
async def get_invoice(number: str, caller: CallerDep, backend: BackendDep):
    return invoice_json(await service.invoice(backend, caller, number))


@router.get("/invoices/{number}/pdf", tags=["invoices"],
            responses={200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
async def get_invoice_pdf(number: str, caller: CallerDep, backend: BackendDep):
    name, data = await service.invoice_pdf(backend, caller, number)
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})
