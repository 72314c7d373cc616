"""Passwords, one-time reset links and API tokens, for the API routes (routes_logins.py) and the
portal pages (portal_account.py) alike.

Who may do what:
- every account changes its own password, giving the current one (a borrowed session or token
  alone cannot), and manages its own API tokens (list, create with an optional expiry, revoke);
- the admin, for any account, and a reseller, for his users, sets a password or issues a one-time
  reset link (shown once), and lists and revokes their tokens; nobody creates a token for another
  account (it would let him act as that account without its password);
- anything outside the caller's view is answered as missing (404), as everywhere else.
A password set by any of these ends every portal session of the account (its epoch rises,
session_records.py) and every open reset link of it; tokens are not sessions and stay.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline.api import service
from pipeline.api.auth import revoke_all_sessions
from pipeline.api.credentials import TOKEN_KEY, new_token, password_record
from pipeline.api.errors import NotFound, Refused
from pipeline.api.password_resets import RESET_KEY, new_reset
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller, caller_of
from pipeline.schemas.reference import AccountIn

MAX_TOKENS = 50  # per account: more is a script creating one per run and never revoking
MAX_TOKEN_DAYS = 3650
MIN_PASSWORD, MAX_PASSWORD = 8, 256


def managed(backend: Backend, caller: Caller, account_id: str) -> AccountIn:
    """An account whose logins the caller manages: the admin any other, a reseller his users."""
    found = service.account(backend, caller, account_id)  # 404 outside the caller's view
    if found.id == caller.account or caller.role == "user":
        raise NotFound()  # one's own password is changed with the current one (change_own_password)
    if found.archived:
        raise Refused(f'account: "{found.id}" is archived and cannot sign in; unarchive it first')
    return found


def checked_new_password(form: Mapping[str, Any], field: str = "password", repeat: str = "repeat") -> str | None:
    """A new password typed in a portal form (None when left empty), checked before anything is
    written: at least 8 characters (credentials.password_record's rule), and its repetition if the
    form has one."""
    password = str(form.get(field, "") or "")
    if not password:
        return None
    if repeat in form and str(form.get(repeat, "")) != password:
        raise Refused("password: the password and its repetition differ")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Refused(f"password: a portal password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


async def _store_password(backend: Backend, account: str, password: str) -> None:
    try:
        record = password_record(account, password)
    except ValueError as exc:
        raise Refused(f"password: {exc}") from None
    await backend.writer.publish_credential(*record)
    await revoke_all_sessions(backend, account)
    for reset_id in backend.live.credentials.resets.of_account(account):
        await backend.writer.publish_credential(RESET_KEY + reset_id, None)


async def set_password(backend: Backend, caller: Caller, account_id: str, password: str) -> None:
    target = managed(backend, caller, account_id)
    await _store_password(backend, target.id, password)
    await service.audit(backend, caller, "set password", f"account {target.id}")


async def issue_reset(backend: Backend, caller: Caller, account_id: str) -> dict[str, Any]:
    """A link that sets the account's password once, within a day; its token is shown only here."""
    target = managed(backend, caller, account_id)
    made = new_reset(target.id)
    await backend.writer.publish_credential(made.key, made.value)
    await service.audit(backend, caller, "issue password link", f"account {target.id}", made.reset_id)
    return {"account": target.id, "token": made.token, "url": f"/reset/{made.token}",
            "expires": _moment(made.expires)}


def reset_account(backend: Backend, token: str) -> str | None:
    """The account a link still works for (not archived), or None."""
    account = backend.live.credentials.resets.account_of(token)
    return account if account is not None and caller_of(backend.live.book, account) is not None else None


async def use_reset(backend: Backend, token: str, password: str) -> str:
    """Sets the password through a link; the link (and every other of the account) is used up."""
    account = reset_account(backend, token)
    if account is None:
        raise NotFound("this link is not valid: used, expired, or mistyped")
    await _store_password(backend, account, password)
    caller = caller_of(backend.live.book, account)
    await service.audit(backend, caller, "set password by link", f"account {account}")
    return account


async def change_own_password(backend: Backend, caller: Caller, current: str, new: str) -> None:
    """The caller's own password, after the current one (the caller throttles the checks)."""
    if not backend.live.credentials.check_password(caller.account, current):
        raise Refused("current: the current password is wrong")
    await _store_password(backend, caller.account, new)
    await service.audit(backend, caller, "change password", f"account {caller.account}")


# tokens -----------------------------------------------------------------------------------------

def _moment(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(int(seconds), timezone.utc).isoformat().replace("+00:00", "Z")


def token_owner(backend: Backend, caller: Caller, account_id: str | None) -> str:
    """Whose tokens a list is about: the caller's own, or an account he manages."""
    if account_id is None or account_id == caller.account:
        return caller.account
    return managed(backend, caller, account_id).id


def tokens(backend: Backend, caller: Caller, account_id: str | None = None) -> list[dict[str, Any]]:
    owner = token_owner(backend, caller, account_id)
    index = backend.live.credentials
    return [{"id": token_id, "account": owner, "created": _moment(index.token_created.get(token_id)),
             "expires": _moment(index.token_expiry.get(token_id))} for token_id in index.tokens_of(owner)]


async def create_token(backend: Backend, caller: Caller, expires_days: int | None) -> dict[str, Any]:
    """A token of the caller's own account; the token itself is in this answer only."""
    if len(backend.live.credentials.tokens_of(caller.account)) >= MAX_TOKENS:
        raise Refused(f"tokens: an account has at most {MAX_TOKENS} tokens; revoke one first")
    if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
        raise Refused(f"expires_days: must be 1 to {MAX_TOKEN_DAYS} (or none: the token never expires)")
    expires = None if expires_days is None else \
        datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=expires_days)
    made = new_token(caller.account, expires)
    await backend.writer.publish_credential(made.key, made.value)
    await service.audit(backend, caller, "create token", f"account {caller.account}", made.token_id)
    return {"id": made.token_id, "account": caller.account, "token": made.token,
            "created": _moment(backend.live.credentials.token_created.get(made.token_id)),
            "expires": None if expires is None else _moment(expires.timestamp())}


async def revoke_token(backend: Backend, caller: Caller, token_id: str) -> None:
    """The caller's own token, or one of an account he manages (the admin: a switch's too)."""
    stored = backend.live.credentials.tokens.get(token_id)
    owner = stored[0] if stored else None
    if owner is None or not _may_revoke(backend, caller, owner):
        raise NotFound()
    await backend.writer.publish_credential(TOKEN_KEY + token_id, None)
    await service.audit(backend, caller, "revoke token", f"account {owner}", token_id)


def _may_revoke(backend: Backend, caller: Caller, owner: str) -> bool:
    if owner == caller.account or caller.is_admin:
        return True
    account = backend.live.book.account(owner)
    return caller.role == "reseller" and service.view.sees_account(caller, account)
