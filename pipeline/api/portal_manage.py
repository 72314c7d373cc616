"""Portal pages of what the admin and a reseller manage: accounts (users), tariffs with their CSV
uploads and error preview, DIDs. Every change goes through service.py, as the JSON API's do."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pipeline.api import logins, portal_account, portal_rates, service
from pipeline.api.auth import backend_of
from pipeline.api.errors import NotFound, Refused
from pipeline.api.portal import manager, posted, redirect, render
from pipeline.api.rates_upload import RatesRefused, parse_rates
from pipeline.api.visibility import Caller, users_of

router = APIRouter(include_in_schema=False)


# users ------------------------------------------------------------------------------------------

ACCOUNT_FIELDS = ("type", "name", "tariff", "billing", "credit_limit", "server", "blocked", "pro", "allow_loss_calls")


def _account_fields(form: dict[str, Any], caller: Caller) -> dict[str, Any]:
    fields = {"type": form.get("type") or "user", "name": form.get("name", "").strip(),
              "tariff": form.get("tariff") or None, "billing": form.get("billing") or "prepaid",
              "credit_limit": (form.get("credit_limit") or "").strip() or None,
              "blocked": form.get("blocked") == "on", "allow_loss_calls": form.get("allow_loss_calls") == "on",
              # invoices go to them (pipeline/invoices); a textarea sends CRLF line ends
              "address": str(form.get("address", "")).replace("\r\n", "\n").strip(),
              "email": str(form.get("email", "")).strip()}
    if caller.is_admin:
        fields.update(parent=form.get("parent") or "admin", server=(form.get("server") or "").strip() or None,
                      pro=form.get("pro") == "on")
        if "allow_own_domain_shown" in form:  # the reseller's form has the box: unticked means no
            fields["allow_own_domain"] = form.get("allow_own_domain") == "on"
    else:
        fields["type"] = "user"
    return fields


def _users_context(request: Request, caller: Caller) -> dict[str, Any]:
    backend = backend_of(request)
    accounts = users_of(caller, backend.live.book)
    if caller.is_admin:  # the admin also sees the resellers' users, under their reseller
        accounts = sorted((a for a in backend.live.book.accounts() if a.type != "admin"),
                          key=lambda a: (a.parent != "admin", a.parent or "", a.id))
    show_archived = request.query_params.get("archived") == "1"  # archived accounts: hidden unless asked
    rows = [{"account": a, "balance": backend.live.balance(a.id),
             "state": service.balance(backend, caller, a.id)} for a in accounts if show_archived or not a.archived]
    tariffs = [t for t in service.tariffs(backend, caller) if t.owner == caller.account]
    resellers = [a for a in accounts if a.type == "reseller" and not a.archived]
    return {"rows": rows, "tariffs": tariffs, "resellers": resellers, "show_archived": show_archived,
            "archived_count": sum(a.archived for a in accounts)}


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request) -> HTMLResponse:
    caller, csrf = manager(request)
    return render(request, "users.html", caller, csrf, active="users", **_users_context(request, caller))


@router.post("/users")
async def create_user(request: Request) -> Response:
    caller, csrf = manager(request)
    form = await posted(request, csrf)
    account_id = str(form.get("id", "")).strip()
    try:
        if not account_id:
            raise Refused("id: an account needs an id")
        existing = backend_of(request).live.book.account(account_id)
        if existing is not None and service.view.sees_account(caller, existing):
            raise Refused(f'id: account "{account_id}" already exists; choose another id')
        password = logins.checked_new_password(form)  # before the account exists: all or nothing
        await service.put_account(backend_of(request), caller, account_id, _account_fields(form, caller))
        if password:
            await logins.set_password(backend_of(request), caller, account_id, password)
    except Refused as exc:
        return render(request, "users.html", caller, csrf, status=422, active="users", error=exc.detail, form=form,
                      **_users_context(request, caller))
    return redirect(f"/users/{quote(account_id)}?done=saved")


@router.get("/users/{account_id}", response_class=HTMLResponse)
def user_page(request: Request, account_id: str) -> HTMLResponse:
    caller, csrf = manager(request)
    return _user_page(request, caller, csrf, account_id)


def _user_page(request: Request, caller: Caller, csrf: str, account_id: str, status: int = 200, error: str = "",
               **extra):
    backend = backend_of(request)
    account = service.account(backend, caller, account_id)
    if account.id == caller.account:
        raise NotFound()  # one edits his users, not himself
    today = datetime.now(timezone.utc).date()
    recent = backend.calls.calls(service.scope(backend, caller, account.id), service.period(today - timedelta(days=30), today),
                                 10, 0, None)
    tariffs = [t for t in service.tariffs(backend, caller) if t.owner == (account.parent or caller.account)]
    return render(request, "user.html", caller, csrf, status=status, active="users", account=account, error=error,
                  balance=service.balance(backend, caller, account.id), tariffs=tariffs,
                  recent=recent.dicts(), dids=[d for d in service.dids(backend, caller) if d.user == account.id],
                  **portal_account.user_logins_context(request, caller, account), **extra)


@router.post("/users/{account_id}")
async def update_user(request: Request, account_id: str) -> Response:
    caller, csrf = manager(request)
    if service.account(backend_of(request), caller, account_id).archived:  # 404 before anything else
        raise Refused("account: it is archived; unarchive it to change its settings")
    form = await posted(request, csrf)
    fields = _account_fields(form, caller)
    if caller.is_admin:
        fields["type"] = backend_of(request).live.book.account(account_id).type
    try:
        await service.put_account(backend_of(request), caller, account_id, fields)
    except Refused as exc:
        return _user_page(request, caller, csrf, account_id, 422, exc.detail)
    return redirect(f"/users/{quote(account_id)}?done=saved")


# tariffs ----------------------------------------------------------------------------------------

def _tariffs_context(request: Request, caller: Caller) -> dict[str, Any]:
    backend = backend_of(request)
    show_archived = request.query_params.get("archived") == "1"  # archived tariffs: hidden unless asked
    return {"tariffs": [(t, service.rate_count(backend, t.id)) for t in service.tariffs(backend, caller, show_archived)],
            "show_archived": show_archived}


@router.get("/tariffs", response_class=HTMLResponse)
def tariffs_page(request: Request) -> HTMLResponse:
    caller, csrf = manager(request)
    return render(request, "tariffs.html", caller, csrf, active="tariffs", **_tariffs_context(request, caller))


@router.post("/tariffs")
async def create_tariff(request: Request) -> Response:
    """A new tariff, with its rates from the uploaded CSV; nothing is created if a line is bad."""
    caller, csrf = manager(request)
    form = await posted(request, csrf)
    backend = backend_of(request)
    tariff_id = str(form.get("id", "")).strip()
    upload = form.get("rates")
    data = await upload.read() if hasattr(upload, "read") else b""
    try:
        if not tariff_id:
            raise Refused("id: a tariff needs an id")
        if backend.live.book.tariff(tariff_id) is not None:
            service.tariff(backend, caller, tariff_id)  # 404 when it is someone else's
            raise Refused(f'id: tariff "{tariff_id}" already exists; choose another id')
        try:  # parsed off the event loop; RateIn objects pass put_tariff's validation as they are
            rates = list(await parse_rates(data)) if data else []
        except RatesRefused as exc:
            return render(request, "tariffs.html", caller, csrf, status=422, active="tariffs", form=form,
                          preview=exc.errors, more=exc.more, filename=getattr(upload, "filename", ""),
                          **_tariffs_context(request, caller))
        await service.put_tariff(backend, caller, tariff_id, {
            "currency": form.get("currency") or "EUR", "timezone": form.get("timezone") or "UTC", "rates": rates})
    except Refused as exc:
        return render(request, "tariffs.html", caller, csrf, status=422, active="tariffs", error=exc.detail, form=form,
                      **_tariffs_context(request, caller))
    return redirect(f"/tariffs/{quote(tariff_id)}?done=saved")


@router.get("/tariffs/{tariff_id}", response_class=HTMLResponse)
def tariff_page(request: Request, tariff_id: str) -> HTMLResponse:
    caller, csrf = manager(request)
    return _tariff_page(request, caller, csrf, tariff_id)


def _tariff_page(request: Request, caller: Caller, csrf: str, tariff_id: str, status: int = 200, **extra):
    backend = backend_of(request)
    tariff = service.tariff(backend, caller, tariff_id)
    users = [a for a in backend.live.book.accounts() if a.tariff == tariff.id and service.view.sees_account(caller, a)]
    return render(request, "tariff.html", caller, csrf, status=status, active="tariffs", tariff=tariff,
                  rate_count=service.rate_count(backend, tariff.id), users=users,
                  **portal_rates.rates_context(request, caller, tariff, extra.pop("typed", None)), **extra)


@router.post("/tariffs/{tariff_id}/rates")
async def upload_rates(request: Request, tariff_id: str) -> Response:
    caller, csrf = manager(request)
    service.tariff(backend_of(request), caller, tariff_id)  # 404 before reading the upload
    form = await posted(request, csrf)
    upload = form.get("rates")
    data = await upload.read() if hasattr(upload, "read") else b""

    try:
        rates = await parse_rates(data)  # off the event loop; the error preview lists the bad lines
    except RatesRefused as exc:
        return _tariff_page(request, caller, csrf, tariff_id, 422, preview=exc.errors, more=exc.more,
                            filename=getattr(upload, "filename", ""))
    try:
        await service.put_rates(backend_of(request), caller, tariff_id, data, rates)
    except Refused as exc:
        return _tariff_page(request, caller, csrf, tariff_id, 422, error=exc.detail)
    return redirect(f"/tariffs/{quote(tariff_id)}?done=rates")


# DIDs: pipeline/api/portal_dids.py
