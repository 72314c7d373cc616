"""The portal's base: sign-in, sessions and rendering (pages: portal_manage.py, portal_reports.py).

Server-rendered pages (Jinja2), a signed session cookie, a CSRF token on every form.

Every page reads through service.py, exactly as the JSON API does, so a page can show nothing the
API would not. The reseller's logo and name head his pages and his users' pages; on the login page
the Host header picks the brand (a reseller's own domain, `portal-domain set`).
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from pipeline.api.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Throttled,
    backend_of,
    client_key,
    csrf_matches,
    current_session,
    login_token,
    login_token_matches,
    new_session,
    read_session,
    revoke_all_sessions,
    revoke_session,
)
from pipeline.api.credentials import normalise_host, password_record
from pipeline.api.domains import may_sign_in_here
from pipeline.api.errors import NotFound, Refused, Unauthorized
from pipeline.api.service import audit
from pipeline.api.visibility import Caller, caller_of
from pipeline.invoices.logo import stored_logo

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def money(value: Any, places: int = 2) -> str:
    """1234.5 -> "1,234.50": Decimal in, text out (never through float)."""
    if value is None or value == "":
        return "—"
    amount = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{amount:,.{places}f}"


def percent_of(part: Any, whole: Any) -> str:
    whole = Decimal(str(whole))
    if not whole:
        return "—"
    return f"{(Decimal(str(part)) * 100 / whole).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


templates.env.filters.update(money=money, percent_of=percent_of)
NAV = {
    "admin": [("dashboard", "/", "Dashboard"), ("users", "/users", "Accounts"), ("tariffs", "/tariffs", "Tariffs"),
              ("dids", "/dids", "DIDs"), ("payments", "/payments", "Payments"), ("calls", "/calls", "Calls"),
              ("profit", "/profit", "Profit"), ("usage", "/usage", "Usage"), ("invoices", "/invoices", "Invoices"),
              ("branding", "/branding", "Branding")],
    "reseller": [("dashboard", "/", "Dashboard"), ("users", "/users", "Users"), ("tariffs", "/tariffs", "Tariffs"),
                 ("dids", "/dids", "DIDs"), ("payments", "/payments", "Payments"), ("calls", "/calls", "Calls"),
                 ("profit", "/profit", "Profit"), ("usage", "/usage", "Usage"), ("invoices", "/invoices", "Invoices"),
                 ("branding", "/branding", "Branding")],
    "user": [("dashboard", "/", "Dashboard"), ("calls", "/calls", "Calls"), ("invoices", "/invoices", "Invoices")],
}
for _role in ("admin", "reseller"):  # the alerts page (pipeline/api/routes_alerts.py), before Branding
    NAV[_role].insert(len(NAV[_role]) - 1, ("alerts", "/alerts", "Alerts"))
    NAV[_role].insert(len(NAV[_role]) - 1, ("cards", "/card-groups", "Cards"))  # pipeline/api/portal_cards.py
    NAV[_role].insert(len(NAV[_role]) - 1, ("devices", "/devices", "Devices"))  # pipeline/api/portal_devices.py
NOTICES = {"saved": "Saved.", "paid": "Payment recorded.", "refunded": "Refund recorded.",
           "corrected": "Correction recorded.", "emailed": "Invoice e-mailed.", "rates": "Rates uploaded.", "out": "You are signed out.",
           "everywhere": "You are signed out on every device.",
           "password": "Password changed. Every other session of this account is signed out."}
MANAGERS = ("admin", "reseller")


# sessions ---------------------------------------------------------------------------------------

def session(request: Request) -> tuple[Caller, str]:
    found = read_session(request)
    if found is None:
        raise Unauthorized("sign in first")
    return found


def manager(request: Request) -> tuple[Caller, str]:
    caller, csrf = session(request)
    if caller.role not in MANAGERS:
        raise NotFound()
    return caller, csrf


async def posted(request: Request, csrf: str) -> dict[str, Any]:
    form = await request.form()
    if not csrf_matches(csrf, form.get("csrf")):
        raise Refused("csrf: the form is stale or was not sent by this portal; reload the page and try again")
    return dict(form)


def render(request: Request, template: str, caller: Caller | None, csrf: str = "", status: int = 200,
           **context) -> HTMLResponse:
    backend = backend_of(request)
    brand = backend.live.branding(caller.account if caller else None)
    account = backend.live.book.account(caller.account) if caller else None
    context.update(request=request, caller=caller, csrf=csrf, brand=brand, me=account,
                   nav=NAV[caller.role] if caller else [], notice=NOTICES.get(request.query_params.get("done", "")))
    return templates.TemplateResponse(request, template, context, status_code=status)


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    found = read_session(request)
    caller, csrf = found if found else (None, "")
    return render(request, "error.html", caller, csrf, status=status, title=title, detail=detail)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    # browsers read "/\\host" as "//host": a backslash anywhere is refused too
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or urlsplit(target).netloc:
        return "/"
    return target


# login ------------------------------------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/", error: str | None = None, status: int = 200) -> HTMLResponse:
    backend = backend_of(request)
    cookie, token = login_token(backend)
    host = normalise_host(request.headers.get("host", ""))
    brand = backend.live.branding(backend.live.credentials.domains.get(host))
    response = templates.TemplateResponse(request, "login.html", {
        "request": request, "brand": brand, "login_csrf": token, "next": _safe_next(next), "error": error,
        "notice": NOTICES.get(request.query_params.get("done", ""))}, status_code=status)
    _set_cookie(request, response, LOGIN_COOKIE, cookie, 3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    backend = backend_of(request)
    form = await request.form()
    account, password = str(form.get("account", "")).strip(), str(form.get("password", ""))
    next_page = _safe_next(str(form.get("next", "/")))
    if not login_token_matches(backend, request.cookies.get(LOGIN_COOKIE), str(form.get("csrf", ""))):
        return login_page(request, next_page, "The sign-in form expired. Please try again.", 400)
    limiter, client = request.app.state.login_limiter, client_key(request, backend.config.trusted_proxies)
    try:
        await limiter.admit(account, client)
    except Throttled as exc:
        return _retry_after(login_page(request, next_page, exc.detail.capitalize() + ".", 429), exc)
    host = request.headers.get("host", "")
    # on a reseller's own domain only he and his users sign in; anyone else is answered exactly as
    # a wrong password is (after the same slow check), so the page tells nothing of other tenants
    if not account or not backend.live.credentials.check_password(account, password) \
            or backend.live.book.account(account) is None and account != "admin" \
            or not may_sign_in_here(backend.live.book, backend.live.credentials.domains, host, account):
        limiter.failed(account, client)
        return login_page(request, next_page, "Unknown account or wrong password.", 401)
    limiter.succeeded(account, client)
    if caller_of(backend.live.book, account) is None:  # told only to who knows the password
        return login_page(request, next_page, "This account is archived: it cannot sign in.", 403)
    cookie, _ = new_session(backend, account)
    response = redirect(next_page)
    _set_cookie(request, response, SESSION_COOKIE, cookie, backend.config.session_seconds)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Ends this session on every instance: a copy of the cookie is refused from now on."""
    _, csrf = session(request)
    await posted(request, csrf)
    found = current_session(request)
    if found is not None:
        await revoke_session(backend_of(request), found)
    response = redirect("/login?done=out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# the account's own settings: password, sessions -----------------------------------------------

@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> HTMLResponse:
    caller, csrf = session(request)
    return render(request, "account.html", caller, csrf, title="Account")


@router.post("/account/password")
async def change_password(request: Request) -> Response:
    """The current password again (a borrowed session alone cannot change it), then the new one;
    every other session of the account ends, this browser gets a fresh one."""
    caller, csrf = session(request)
    form = await posted(request, csrf)
    backend = backend_of(request)
    limiter, client = request.app.state.login_limiter, client_key(request, backend.config.trusted_proxies)
    try:
        await limiter.admit(caller.account, client)
    except Throttled as exc:
        page = render(request, "account.html", caller, csrf, 429, title="Account", error=exc.detail.capitalize() + ".")
        return _retry_after(page, exc)
    if not backend.live.credentials.check_password(caller.account, str(form.get("current", ""))):
        limiter.failed(caller.account, client)
        return render(request, "account.html", caller, csrf, 422, title="Account",
                      error="The current password is wrong.")
    limiter.succeeded(caller.account, client)
    new = str(form.get("new", ""))
    try:
        if new != str(form.get("repeat", "")):
            raise ValueError("the new password and its repetition differ")
        record = password_record(caller.account, new)
    except ValueError as exc:
        return render(request, "account.html", caller, csrf, 422, title="Account", error=str(exc).capitalize() + ".")
    await backend.writer.publish_credential(*record)
    await revoke_all_sessions(backend, caller.account)
    await audit(backend, caller, "change password", f"account {caller.account}")
    cookie, _ = new_session(backend, caller.account)
    response = redirect("/account?done=password")
    _set_cookie(request, response, SESSION_COOKIE, cookie, backend.config.session_seconds)
    return response


@router.post("/account/sign-out-everywhere")
async def sign_out_everywhere(request: Request) -> Response:
    """Every session of the account ends, on every device (a stolen cookie with them)."""
    caller, csrf = session(request)
    await posted(request, csrf)
    backend = backend_of(request)
    await revoke_all_sessions(backend, caller.account)
    await audit(backend, caller, "sign out everywhere", f"account {caller.account}")
    response = redirect("/login?done=everywhere")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _retry_after(response: Response, throttled: Throttled) -> Response:
    response.headers["Retry-After"] = str(throttled.retry_after)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


LOGO_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; sandbox"


@router.get("/brand/logo")
def brand_logo(request: Request) -> Response:
    """The logo heading the page: the signed-in account's reseller's, else the Host's reseller's."""

    backend = backend_of(request)
    found = read_session(request)
    account = found[0].account if found else backend.live.credentials.domains.get(
        normalise_host(request.headers.get("host", "")))
    brand = backend.live.branding(account)
    logo = None if brand is None or brand.logo is None else stored_logo(brand.logo, brand.logo_type)
    if logo is None:  # none, or one stored before SVGs were sanitised that would be refused today
        raise NotFound()
    # an SVG opened on its own is a document: nothing may run or load in it, whatever it holds
    return Response(logo, media_type=brand.logo_type,
                    headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff",
                             "Content-Security-Policy": LOGO_POLICY})
