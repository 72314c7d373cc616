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

from pipeline.api.auth import (LOGIN_COOKIE, SESSION_COOKIE, backend_of, csrf_matches, login_token,
                               login_token_matches, new_session, read_session)
from pipeline.api.credentials import normalise_host
from pipeline.api.errors import ApiError, NotFound, Refused, Unauthorized
from pipeline.api.visibility import Caller

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
              ("profit", "/profit", "Profit"), ("invoices", "/invoices", "Invoices"),
              ("branding", "/branding", "Branding")],
    "reseller": [("dashboard", "/", "Dashboard"), ("users", "/users", "Users"), ("tariffs", "/tariffs", "Tariffs"),
                 ("dids", "/dids", "DIDs"), ("payments", "/payments", "Payments"), ("calls", "/calls", "Calls"),
                 ("profit", "/profit", "Profit"), ("invoices", "/invoices", "Invoices"),
                 ("branding", "/branding", "Branding")],
    "user": [("dashboard", "/", "Dashboard"), ("calls", "/calls", "Calls"), ("invoices", "/invoices", "Invoices")],
}
NOTICES = {"saved": "Saved.", "paid": "Payment recorded.", "rates": "Rates uploaded.", "out": "You are signed out."}
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
    limiter = request.app.state.login_limiter
    keys = (f"account:{account}", f"client:{request.client.host if request.client else '-'}")
    try:
        limiter.check(*keys)
    except ApiError as exc:
        return login_page(request, next_page, exc.detail.capitalize() + ".", 429)
    if not account or not backend.live.credentials.check_password(account, password) \
            or backend.live.book.account(account) is None and account != "admin":
        limiter.failed(*keys)
        return login_page(request, next_page, "Unknown account or wrong password.", 401)
    limiter.succeeded(*keys)
    cookie, _ = new_session(backend, account)
    response = redirect(next_page)
    _set_cookie(request, response, SESSION_COOKIE, cookie, backend.config.session_seconds)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    _, csrf = session(request)
    await posted(request, csrf)
    response = redirect("/login?done=out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


@router.get("/brand/logo")
def brand_logo(request: Request) -> Response:
    """The logo heading the page: the signed-in account's reseller's, else the Host's reseller's."""
    backend = backend_of(request)
    found = read_session(request)
    account = found[0].account if found else backend.live.credentials.domains.get(
        normalise_host(request.headers.get("host", "")))
    brand = backend.live.branding(account)
    if brand is None or brand.logo is None:
        raise NotFound()
    return Response(brand.logo, media_type=brand.logo_type,
                    headers={"Cache-Control": "private, max-age=300", "Content-Security-Policy": "script-src 'none'"})
