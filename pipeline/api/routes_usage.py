"""Usage and profit per user, and the calls' totals: `GET /v1/stats/users`, `GET /v1/calls/totals`
and the portal's Usage page. A reseller sees his users (and himself, when he calls), the admin
every account under its reseller; revenue, cost and profit are from the caller's side of the chain,
as `GET /v1/profit` counts them (pipeline/api/queries.py: user_stats, call_totals)."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from pipeline.api import service
from pipeline.api.auth import api_caller, backend_of
from pipeline.api.calls_view import API_NAMES, CallsQuery, asked_period, check_filter, default_period, minutes, totals
from pipeline.api.models import Day
from pipeline.api.portal import manager, render
from pipeline.api.shape import json_rows
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller

router = APIRouter()
CallerDep = Annotated[Caller, Depends(api_caller)]
BackendDep = Annotated[Backend, Depends(backend_of)]
From = Annotated[Day, Query(alias="from", description="first UTC day, included")]
To = Annotated[Day, Query(alias="to", description="last UTC day, included")]
Id = Annotated[str, Query(min_length=1, max_length=200)]


class UserStatsRow(BaseModel):
    reseller: str | None = None  # the admin's rows: the account's reseller ('' = a direct user)
    account: str
    currency: str
    calls: int
    answered: int
    billsec: int
    minutes: str
    revenue: str
    cost: str
    profit: str


class CallTotals(BaseModel):
    currency: str
    calls: int
    answered: int
    billsec: int
    minutes: str
    user_price: str
    reseller_price: str | None = None
    provider_price: str | None = None
    profit: str | None = None


def user_rows(backend: Backend, caller: Caller, period, reseller: str | None = None) -> list[dict[str, Any]]:
    service.manager_only(caller)
    scope = service.scope(backend, caller, None, reseller)
    rows = json_rows(backend.calls.user_stats(scope, period))
    for row in rows:
        row["billsec"] = int(row.pop("billsec_total"))
        row["minutes"] = str(minutes(row["billsec"]))
    return rows


@router.get("/v1/stats/users", response_model=list[UserStatsRow], tags=["calls"])
def get_user_stats(caller: CallerDep, backend: BackendDep, first: From, last: To, reseller: Id | None = None):
    """Per account and currency over the period: calls, answered, billed seconds and minutes,
    revenue, cost and profit (a reseller: his users' user price, his reseller price, his profit;
    the admin: per reseller and account, what reaches him, the provider price, his profit)."""
    return user_rows(backend, caller, service.period(first, last), reseller)


@router.get("/v1/calls/totals", response_model=list[CallTotals], tags=["calls"])
def get_call_totals(caller: CallerDep, backend: BackendDep, first: From, last: To,
                    account: Id | None = None,
                    dst_prefix: Annotated[str | None, Query(pattern=r"^[0-9]{1,20}$")] = None,
                    disposition: Annotated[str | None, Query(max_length=32)] = None,
                    src_prefix: Annotated[str | None, Query(max_length=64)] = None,
                    min_billsec: Annotated[int | None, Query(ge=0, le=604_800)] = None):
    """Per currency, over every call the filters select (what GET /v1/calls pages through): calls,
    answered, billed seconds, and the sums of the prices the caller may see."""
    query = CallsQuery(service.scope(backend, caller, account), service.period(first, last), account, dst_prefix,
                       check_filter(disposition, src_prefix, min_billsec, API_NAMES), False)
    return [{**{k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items() if k != "billsec_total"},
             "billsec": row["billsec_total"]} for row in totals(backend, query)]


# the portal ------------------------------------------------------------------------------------

@router.get("/usage", response_class=HTMLResponse, include_in_schema=False)
def usage_page(request: Request) -> HTMLResponse:
    caller, csrf = manager(request)
    backend = backend_of(request)
    params = request.query_params
    reseller = (params.get("reseller") or None) if caller.is_admin else None
    if params.get("from") or params.get("to"):
        period = asked_period(params)
    else:
        period = default_period(backend, service.scope(backend, caller, None, reseller))
    rows = user_rows(backend, caller, period, reseller)
    names = {a.id: a.name for a in backend.live.book.accounts()}
    resellers = sorted((a for a in backend.live.book.accounts() if a.type == "reseller"), key=lambda a: a.id) \
        if caller.is_admin else []
    return render(request, "usage.html", caller, csrf, active="usage", rows=rows, names=names, resellers=resellers,
                  query={"from": period.first.isoformat(), "to": period.last.isoformat(), "reseller": reseller or ""})
