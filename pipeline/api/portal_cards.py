"""Portal pages of calling cards: the owner's groups and cards (state, balance, calls), a batch
(its CSV is the download the form answers), sell/block/unblock; top-ups are the payments page's
form with the card's number. And the card holder's own page: his card's number and PIN (a form of
its own, throttled like the sign-in), his balance and his calls; no session is kept for him.

Everything goes through routes_cards' functions, with the visibility and write rules of the API.
"""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pipeline.api import routes_cards as cards
from pipeline.api.auth import (
    LOGIN_COOKIE,
    Throttled,
    backend_of,
    client_key,
    login_token,
    login_token_matches,
)
from pipeline.api.errors import Refused
from pipeline.api.portal import (
    _retry_after,
    _set_cookie,
    manager,
    posted,
    redirect,
    render,
    templates,
)
from pipeline.api.queries import Period
from pipeline.api.visibility import Caller, Scope
from pipeline.schemas.cards import pin_matches

router = APIRouter(include_in_schema=False)
PAGE = 200  # cards per page: their calls are one ClickHouse query per page
HOLDER_CALLS = 50
HOLDER_DAYS = 90
NOTICES = {"sell": "Card sold.", "block": "Card blocked.", "unblock": "Card unblocked."}


@router.get("/card-groups", response_class=HTMLResponse)
def groups_page(request: Request) -> HTMLResponse:
    caller, csrf = manager(request)
    backend = backend_of(request)
    groups = [cards.group_json(backend, g) for g in cards.groups_of(backend, caller)]
    return render(request, "cards.html", caller, csrf, active="cards", groups=groups)


@router.get("/card-groups/{group_id}", response_class=HTMLResponse)
def group_page(request: Request, group_id: str, offset: int = 0) -> HTMLResponse:
    caller, csrf = manager(request)
    return _group_page(request, caller, csrf, group_id, max(0, offset))


def _group_page(request: Request, caller: Caller, csrf: str, group_id: str, offset: int = 0, error: str = "",
                status: int = 200) -> HTMLResponse:
    backend = backend_of(request)
    group = cards.group_of(backend, caller, group_id)
    page = backend.live.book.cards_of_group(group.id)[offset:offset + PAGE]
    try:
        usage = cards.card_usage(backend, [c.number for c in page])
        unavailable = ""
    except Exception as exc:  # noqa: BLE001 - ClickHouse away: the cards and balances still show
        usage, unavailable = {}, f"{type(exc).__name__}"
    rows = [cards.card_json(backend, c, usage.get(c.number)) for c in page]
    done = request.query_params.get("done", "")
    return render(request, "card_group.html", caller, csrf, status=status, active="cards",
                  group=cards.group_json(backend, group), rows=rows, offset=offset, page=PAGE,
                  error=error, unavailable=unavailable, card_notice=NOTICES.get(done, ""))


@router.post("/card-groups/{group_id}/generate")
async def generate_from_portal(request: Request, group_id: str) -> Response:
    """The batch's CSV as a download: the only time these PINs are shown."""
    caller, csrf = manager(request)
    form = await posted(request, csrf)
    backend = backend_of(request)
    cards.group_of(backend, caller, group_id)  # 404 before reading the form's numbers
    try:
        count = int(str(form.get("count", "")).strip() or "0")
        made = await cards.make_batch(backend, caller, group_id, count, form.get("sold") == "on")
    except ValueError:
        return _group_page(request, caller, csrf, group_id, error="count: a whole number of cards", status=422)
    except Refused as exc:
        return _group_page(request, caller, csrf, group_id, error=exc.detail, status=422)
    return Response(made.csv(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="cards-{quote(made.group.id)}.csv"', "Cache-Control": "no-store"})


@router.post("/card-groups/{group_id}/state")
async def state_from_portal(request: Request, group_id: str) -> Response:
    caller, csrf = manager(request)
    form = await posted(request, csrf)
    backend = backend_of(request)
    group = cards.group_of(backend, caller, group_id)
    number, action = str(form.get("number", "")), str(form.get("action", ""))
    card = backend.live.book.card(number)
    try:
        if card is None or card.group != group.id:
            raise Refused(f'number: no card "{number[:40]}" in this group')
        if action not in ("sell", "block", "unblock"):
            raise Refused("action: sell, block or unblock")
        await cards.set_state(backend, caller, number, action)
    except Refused as exc:
        return _group_page(request, caller, csrf, group_id, error=exc.detail, status=422)
    return redirect(f"/card-groups/{quote(group.id)}?done={action}")


# the card holder's page -------------------------------------------------------------------------------

@router.get("/card", response_class=HTMLResponse)
def holder_sign_in(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    backend = backend_of(request)
    cookie, token = login_token(backend)
    response = templates.TemplateResponse(request, "card_holder.html", {
        "request": request, "login_csrf": token, "error": error, "card": None}, status_code=status)
    _set_cookie(request, response, LOGIN_COOKIE, cookie, 3600)
    return response


@router.post("/card", response_class=HTMLResponse)
async def holder_page(request: Request) -> Response:
    """Number + PIN: the card's balance and calls, on this answer only (nothing is remembered).
    Wrong guesses are throttled per card and client as sign-ins are (login_throttle.py)."""
    backend = backend_of(request)
    form = await request.form()
    number, pin = str(form.get("number", "")).strip()[:32], str(form.get("pin", ""))[:16]
    if not login_token_matches(backend, request.cookies.get(LOGIN_COOKIE), str(form.get("csrf", ""))):
        return holder_sign_in(request, "The form expired. Please try again.", 400)
    limiter, client = request.app.state.login_limiter, client_key(request, backend.config.trusted_proxies)
    try:
        await limiter.admit(f"card:{number}", client)
    except Throttled as exc:
        return _retry_after(holder_sign_in(request, exc.detail.capitalize() + ".", 429), exc)
    card = backend.live.book.card(number) if number.isdigit() else None
    if card is None or not pin_matches(pin, card.pin_hash):
        limiter.failed(f"card:{number}", client)
        return holder_sign_in(request, "Unknown card number or wrong PIN.", 401)
    limiter.succeeded(f"card:{number}", client)
    today = datetime.now(UTC).date()
    scope = Scope("user", card.number, card.number)
    try:
        usage = (await asyncio.to_thread(cards.card_usage, backend, [card.number])).get(card.number)
        table = await asyncio.to_thread(backend.calls.calls, scope, Period(today - timedelta(days=HOLDER_DAYS), today),
                                        HOLDER_CALLS, 0, None)
        calls = [dict(zip(table.columns, row)) for row in table.rows[:HOLDER_CALLS]]
    except Exception:  # noqa: BLE001 - ClickHouse away: the balance still shows
        usage, calls = None, None
    response = templates.TemplateResponse(request, "card_holder.html", {
        "request": request, "card": cards.card_json(backend, card, usage), "calls": calls, "days": HOLDER_DAYS,
        "error": None, "login_csrf": ""})
    response.headers["Cache-Control"] = "no-store"
    return response
