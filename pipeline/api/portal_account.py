"""Portal pages of logins (rules: logins.py): the account's own API tokens, a manager's sign-in
settings of his user (password, one-time link, tokens, archiving), and the public page a one-time
link opens.

A token or a link is shown once, in the answer to the form that made it (never a redirect to a
page that could show it again: nothing keeps it).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pipeline.api import logins, portal_manage, rate_service, service
from pipeline.api.auth import LOGIN_COOKIE, backend_of, login_token, login_token_matches
from pipeline.api.errors import NotFound, Refused
from pipeline.api.portal import NOTICES, _set_cookie, manager, posted, redirect, render, session, templates
from pipeline.api.visibility import Caller

router = APIRouter(include_in_schema=False)
NOTICES.update({"token-revoked": "Token revoked: requests with it are refused from now on.",
                "password-set": "Password set. Every portal session of this account is signed out.",
                "reset-done": "Your password is set. Sign in with it."})


def user_logins_context(request: Request, caller: Caller, account) -> dict[str, Any]:
    """The user page's sign-in card: the account's tokens (its manager may revoke them)."""
    backend = backend_of(request)
    return {"user_tokens": logins.tokens(backend, caller, account.id) if not account.archived else [],
            "has_password": account.id in backend.live.credentials.passwords}


# the account's own tokens -----------------------------------------------------------------------

def _tokens_page(request: Request, caller: Caller, csrf: str, status: int = 200, **extra) -> HTMLResponse:
    tokens = logins.tokens(backend_of(request), caller)
    return render(request, "tokens.html", caller, csrf, status=status, title="API tokens", tokens=tokens,
                  max_tokens=logins.MAX_TOKENS, **extra)


@router.get("/account/tokens", response_class=HTMLResponse)
def tokens_page(request: Request) -> HTMLResponse:
    caller, csrf = session(request)
    return _tokens_page(request, caller, csrf)


@router.post("/account/tokens", response_class=HTMLResponse)
async def create_token(request: Request) -> HTMLResponse:
    caller, csrf = session(request)
    form = await posted(request, csrf)
    days = str(form.get("expires_days", "")).strip()
    try:
        if days and not days.isdigit():
            raise Refused("expires_days: a whole number of days, or empty for a token that never expires")
        made = await logins.create_token(backend_of(request), caller, int(days) if days else None)
    except Refused as exc:
        return _tokens_page(request, caller, csrf, 422, error=exc.detail)
    return _tokens_page(request, caller, csrf, 201, new_token=made)


@router.post("/account/tokens/revoke")
async def revoke_own_token(request: Request) -> Response:
    caller, csrf = session(request)
    form = await posted(request, csrf)
    await logins.revoke_token(backend_of(request), caller, str(form.get("id", "")))
    return redirect("/account/tokens?done=token-revoked")


# a manager's acts on his user -------------------------------------------------------------------

def _user_page(request: Request, caller: Caller, csrf: str, account_id: str, status: int, **extra) -> HTMLResponse:
    return portal_manage._user_page(request, caller, csrf, account_id, status, **extra)


@router.post("/users/{account_id}/password")
async def set_user_password(request: Request, account_id: str) -> Response:
    caller, csrf = manager(request)
    backend = backend_of(request)
    service.account(backend, caller, account_id)  # 404 before the form is read
    form = await posted(request, csrf)
    try:
        password = logins.checked_new_password(form)
        if password is None:
            raise Refused("password: type the new password")
        await logins.set_password(backend, caller, account_id, password)
    except Refused as exc:
        return _user_page(request, caller, csrf, account_id, 422, error=exc.detail)
    return redirect(f"/users/{quote(account_id)}?done=password-set#logins")


@router.post("/users/{account_id}/reset-link", response_class=HTMLResponse)
async def issue_reset_link(request: Request, account_id: str) -> HTMLResponse:
    caller, csrf = manager(request)
    backend = backend_of(request)
    service.account(backend, caller, account_id)  # 404 before the form is read
    await posted(request, csrf)
    try:
        link = await logins.issue_reset(backend, caller, account_id)
    except Refused as exc:
        return _user_page(request, caller, csrf, account_id, 422, error=exc.detail)
    link["full_url"] = str(request.base_url).rstrip("/") + link["url"]
    return _user_page(request, caller, csrf, account_id, 201, reset_link=link)


@router.post("/users/{account_id}/tokens/revoke")
async def revoke_user_token(request: Request, account_id: str) -> Response:
    caller, csrf = manager(request)
    backend = backend_of(request)
    target = service.account(backend, caller, account_id)
    form = await posted(request, csrf)
    token_id = str(form.get("id", ""))
    if token_id not in backend.live.credentials.tokens_of(target.id):
        raise NotFound()  # only this user's tokens from this page
    await logins.revoke_token(backend, caller, token_id)
    return redirect(f"/users/{quote(account_id)}?done=token-revoked#logins")


@router.post("/users/{account_id}/archive")
async def archive_user(request: Request, account_id: str) -> Response:
    caller, csrf = manager(request)
    backend = backend_of(request)
    service.account(backend, caller, account_id)
    form = await posted(request, csrf)
    archived = form.get("action") != "unarchive"
    try:
        await rate_service.archive_account(backend, caller, account_id, archived)
    except Refused as exc:
        return _user_page(request, caller, csrf, account_id, 422, error=exc.detail)
    return redirect(f"/users/{quote(account_id)}?done={'archived' if archived else 'unarchived'}")


# the one-time link's page (no session: the link is the credential) ------------------------------

def _reset_page(request: Request, token: str, status: int = 200, error: str | None = None) -> HTMLResponse:
    backend = backend_of(request)
    account = logins.reset_account(backend, token)
    cookie, form_token = login_token(backend)
    response = templates.TemplateResponse(request, "reset.html", {
        "request": request, "brand": backend.live.branding(account), "account": account, "token": token,
        "login_csrf": form_token, "error": error}, status_code=status if account else 404)
    _set_cookie(request, response, LOGIN_COOKIE, cookie, 3600)
    return response


@router.get("/reset/{token}", response_class=HTMLResponse)
def reset_page(request: Request, token: str) -> HTMLResponse:
    return _reset_page(request, token)


@router.post("/reset/{token}")
async def use_reset_link(request: Request, token: str) -> Response:
    backend = backend_of(request)
    form = await request.form()
    if not login_token_matches(backend, request.cookies.get(LOGIN_COOKIE), str(form.get("csrf", ""))):
        return _reset_page(request, token, 400, "The form expired. Please try again.")
    try:
        password = logins.checked_new_password(form)
        if password is None:
            raise Refused("password: type the new password")
        await logins.use_reset(backend, token, password)
    except Refused as exc:
        return _reset_page(request, token, 422, exc.detail.removeprefix("password: ").capitalize() + ".")
    except NotFound:
        return _reset_page(request, token)
    response = redirect("/login?done=reset-done")
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response
