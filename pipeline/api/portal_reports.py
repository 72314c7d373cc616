"""Portal pages of money and calls: the dashboard (with its 30-day chart), payments, calls (with
filters, paging and CSV), profit, and the branding (logo and invoice details)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from pipeline.api import service
from pipeline.api.auth import backend_of
from pipeline.api.branding_terms import invoice_terms
from pipeline.api.calls_view import DISPOSITIONS, calls_query
from pipeline.api.calls_view import totals as call_totals
from pipeline.api.chart import daily_chart
from pipeline.api.csv_export import to_csv
from pipeline.api.errors import Refused
from pipeline.api.invoice_mail import mail_context
from pipeline.api.portal import MANAGERS, manager, posted, redirect, render, session
from pipeline.api.routes_alerts import visible_alerts
from pipeline.api.shape import json_rows, with_asr_acd
from pipeline.api.visibility import Caller, users_of

router = APIRouter(include_in_schema=False)


# dashboard --------------------------------------------------------------------------------------

@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    caller, csrf = session(request)
    backend = backend_of(request)
    today = datetime.now(timezone.utc).date()
    balance = None if caller.is_admin else service.balance(backend, caller, caller.account)
    context: dict[str, Any] = {"balance": balance, "today": today}
    if caller.role in MANAGERS:
        days = [today - timedelta(days=n) for n in range(29, -1, -1)]
        rows = with_asr_acd(json_rows(backend.calls.stats(service.scope(backend, caller, None),
                                                          service.period(days[0], today), False)))
        currency = rows[0]["currency"] if rows else (balance or {}).get("currency", "EUR")
        revenue = {date.fromisoformat(r["day"]): Decimal(r["revenue"]) for r in rows if r["currency"] == currency}
        profit = {date.fromisoformat(r["day"]): Decimal(r["profit"]) for r in rows if r["currency"] == currency}
        today_rows = [r for r in rows if r["day"] == today.isoformat()]
        context.update(
            chart=daily_chart(days, revenue, profit, currency), currency=currency,
            today_calls=sum(r["calls"] for r in today_rows),
            today_revenue=sum((Decimal(r["revenue"]) for r in today_rows), Decimal(0)),
            today_profit=sum((Decimal(r["profit"]) for r in today_rows), Decimal(0)),
            month_revenue=sum(revenue.values(), Decimal(0)), month_profit=sum(profit.values(), Decimal(0)),
            accounts=users_of(caller, backend.live.book),
            blocked=[a for a in users_of(caller, backend.live.book)
                     if backend.live.states.get(a.id, {}).get("state") == "blocked" or a.blocked],
            # the alerts card: alerts in view, and who an alert blocks now (the guard's reason)
            alerts_watching=len(visible_alerts(backend, caller)),
            alert_blocked=[a for a in users_of(caller, backend.live.book)
                           if backend.live.states.get(a.id, {}).get("reason") == "alert"])
    else:
        month = backend.calls.calls(service.scope(backend, caller, None),
                                    service.period(today - timedelta(days=29), today), 1000, 0, None).dicts()
        today_rows = [r for r in month if r["start_time"].date() == today]
        context.update(today_calls=len(today_rows), recent=month[:8],
                       today_spent=sum((r["user_price"] for r in today_rows), Decimal(0)))
    return render(request, "dashboard.html", caller, csrf, active="dashboard", **context)


# payments ---------------------------------------------------------------------------------------

@router.get("/payments", response_class=HTMLResponse)
def payments_page(request: Request) -> HTMLResponse:
    caller, csrf = manager(request)
    return _payments_page(request, caller, csrf)


def _payments_page(request: Request, caller: Caller, csrf: str, status: int = 200, **extra) -> HTMLResponse:
    backend = backend_of(request)
    accounts = [a for a in users_of(caller, backend.live.book)]
    if caller.is_admin:
        accounts = sorted((a for a in backend.live.book.accounts() if a.type != "admin"), key=lambda a: a.id)
    rows = [{"account": a, "balance": service.balance(backend, caller, a.id)} for a in accounts]
    return render(request, "payments.html", caller, csrf, status=status, active="payments", rows=rows, **extra)


@router.post("/payments")
async def post_payment(request: Request) -> Response:
    caller, csrf = manager(request)
    form = await posted(request, csrf)
    try:
        paid = await service.pay(backend_of(request), caller, str(form.get("account", "")),
                                 str(form.get("amount", "")).strip(), None, str(form.get("kind") or "payment"),
                                 str(form.get("reason", "")))
    except Refused as exc:
        return _payments_page(request, caller, csrf, 422, error=exc.detail, form=form)
    return redirect("/payments?done=" + {"refund": "refunded", "correction": "corrected"}.get(paid["kind"], "paid"))


# calls and profit -------------------------------------------------------------------------------

def _period_of(request: Request) -> tuple[date, date]:
    today = datetime.now(timezone.utc).date()
    try:
        first = date.fromisoformat(request.query_params.get("from") or (today - timedelta(days=6)).isoformat())
        last = date.fromisoformat(request.query_params.get("to") or today.isoformat())
    except ValueError:
        raise Refused("from/to: dates as YYYY-MM-DD") from None
    return first, last


@router.get("/calls", response_class=HTMLResponse)
def calls_page(request: Request) -> HTMLResponse:
    """Calls with their totals over the whole filter (pipeline/api/calls_view.py)."""
    caller, csrf = session(request)
    backend = backend_of(request)
    query = calls_query(backend, caller, request.query_params)
    page_text = request.query_params.get("page", "1")
    page = min(max(int(page_text), 1), 100_000) if page_text.isascii() and page_text.isdigit() else 1
    per_page = 50
    table = backend.calls.calls(query.scope, query.period, per_page, (page - 1) * per_page, query.dst, query.filters)
    rows = table.dicts()
    accounts = []
    if caller.role in MANAGERS:  # the admin may pick any account, his resellers' users too
        accounts = (sorted((a for a in backend.live.book.accounts() if a.type != "admin"), key=lambda a: a.id)
                    if caller.is_admin else users_of(caller, backend.live.book))
    return render(request, "calls.html", caller, csrf, active="calls", rows=rows[:per_page], columns=table.columns,
                  has_next=len(rows) > per_page, page=page, query=query.params(), calls=query,
                  totals=call_totals(backend, query), accounts=accounts, dispositions=DISPOSITIONS)


@router.get("/calls.csv")
def calls_csv(request: Request) -> Response:
    caller, _ = session(request)
    backend = backend_of(request)
    query = calls_query(backend, caller, request.query_params)
    table = backend.calls.calls(query.scope, query.period, 100_000, 0, query.dst, query.filters)
    first, last = query.period.first, query.period.last
    return PlainTextResponse(to_csv(table.columns, table.rows[:100_000]), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="calls-{first}-{last}.csv"'})


@router.get("/profit", response_class=HTMLResponse)
def profit_page(request: Request) -> HTMLResponse:
    caller, csrf = manager(request)
    backend = backend_of(request)
    first, last = _period_of(request)
    period = service.period(first, last)
    scope = service.scope(backend, caller, None)
    totals = json_rows(backend.calls.profit(scope, period))
    destinations: dict[tuple, dict] = {}
    for row in backend.calls.stats(scope, period, True).dicts():  # per day and destination: summed over days
        key = (row["destination"], row["currency"])
        total = destinations.setdefault(key, {"destination": row["destination"], "currency": row["currency"],
                                              "calls": 0, "answered": 0, "billsec_total": 0,
                                              "revenue": Decimal(0), "profit": Decimal(0)})
        for name in ("calls", "answered", "billsec_total", "revenue", "profit"):
            total[name] += row[name]
    by_destination = sorted(with_asr_acd(list(destinations.values())), key=lambda r: -r["revenue"])
    return render(request, "profit.html", caller, csrf, active="profit", totals=totals, destinations=by_destination,
                  query={"from": first.isoformat(), "to": last.isoformat()})


# branding ---------------------------------------------------------------------------------------

BRANDING_FIELDS = ("company", "address", "vat_id", "bank", "email", "number_prefix")


@router.get("/branding", response_class=HTMLResponse)
def branding_page(request: Request) -> HTMLResponse:
    caller, csrf = manager(request)
    return render(request, "branding.html", caller, csrf, active="branding",
                  details=service.issuer_details(backend_of(request), caller))


@router.post("/branding")
async def save_branding(request: Request) -> Response:
    caller, csrf = manager(request)
    form = await posted(request, csrf)
    upload = form.get("logo")
    data = await upload.read() if hasattr(upload, "read") else b""
    logo = (data, upload.content_type or "") if data else None
    fields = {name: str(form.get(name, "")).strip() for name in BRANDING_FIELDS}
    existing = service.issuer_details(backend_of(request), caller)
    fields.update(timezone=existing.get("timezone", "UTC"), **invoice_terms(form, existing))
    try:
        await service.put_branding(backend_of(request), caller, fields, logo)
    except Refused as exc:
        return render(request, "branding.html", caller, csrf, status=422, active="branding", error=exc.detail,
                      details=fields)
    return redirect("/branding?done=saved")


# invoices ---------------------------------------------------------------------------------------

@router.get("/invoices", response_class=HTMLResponse)
async def invoices_page(request: Request) -> HTMLResponse:
    caller, csrf = session(request)
    return await _invoices_page(request, caller, csrf)


async def _invoices_page(request: Request, caller: Caller, csrf: str, status: int = 200, **extra) -> HTMLResponse:
    backend = backend_of(request)
    found = await service.invoices(backend, caller)
    today = datetime.now(timezone.utc).date()
    last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    return render(request, "invoices.html", caller, csrf, status=status, active="invoices", invoices=found,
                  accounts=users_of(caller, backend.live.book), last_month=last_month,
                  **await mail_context(backend, caller, found), **extra)


invoices_page_response = _invoices_page  # the invoice e-mail pages answer with it (routes_invoice_mail.py)


@router.post("/invoices")
async def issue_invoice(request: Request) -> Response:
    caller, csrf = manager(request)
    form = await posted(request, csrf)
    try:
        await service.issue_invoice(backend_of(request), caller, str(form.get("account", "")),
                                    str(form.get("period", "")).strip())
    except Refused as exc:
        return await _invoices_page(request, caller, csrf, 422, error=exc.detail)
    return redirect("/invoices?done=saved")


@router.get("/invoices/{number}.pdf")
async def invoice_pdf(request: Request, number: str) -> Response:
    caller, _ = session(request)
    name, data = await service.invoice_pdf(backend_of(request), caller, number)
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})
