"""`api`, `token create|revoke`, `password set`, `sessions revoke-all`, `portal-domain set`
(`register(group)` adds them to pipeline/cli.py's group)."""
from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timedelta, timezone

import click

from pipeline.api.config import api_config
from pipeline.api.credentials import (
    TOKEN_KEY,
    CredentialIndex,
    domain_record,
    new_token,
    password_record,
    switch_account,
)
from pipeline.api.domains import check_host
from pipeline.api.kafka_backend import publish_credential_once
from pipeline.api.session_records import epoch_record
from pipeline.kafka.topic_io import read_all
from pipeline.kafka.topics import REF_CREDENTIALS
from pipeline.logging_setup import setup_logging
from pipeline.reference.feed import ReferenceFeed
from pipeline.settings import Settings


def register(group: click.Group) -> None:
    for command in (api, token, password, sessions, portal_domain):
        group.add_command(command)


@click.command(help="Serve the JSON API (/v1), its OpenAPI document and the portal on RATING_API_HOST:RATING_API_PORT.")
@click.option("--host", default=None, help="default: RATING_API_HOST (127.0.0.1)")
@click.option("--port", default=None, type=int, help="default: RATING_API_PORT (8080)")
def api(host: str | None, port: int | None) -> None:
    # imported when the API starts: FastAPI and the app's modules add ~3.5 s (measured) to every other
    # command's start
    import uvicorn

    from pipeline.api.app import production_app

    settings = Settings()
    setup_logging(settings.log_level)
    config = api_config(settings)
    # X-Forwarded-For/-Proto only from RATING_API_TRUSTED_PROXIES (uvicorn would trust 127.0.0.1)
    uvicorn.run(production_app(settings, config), host=host or config.host, port=port or config.port,
                proxy_headers=bool(config.trusted_proxies), forwarded_allow_ips=list(config.trusted_proxies),
                log_level=settings.log_level.lower())


@click.group(help="Bearer tokens of the API (only their hash is stored, on ref.credentials).")
def token() -> None:
    pass


@token.command("create", help="Create a token for ACCOUNT, or with --switch SERVER a switch's token that may only "
                                "ask POST /v1/authorize for that server's calls, and print it (once: it cannot be "
                                "shown again).")
@click.argument("account", required=False)
@click.option("--switch", "server", default=None, metavar="SERVER",
              help="a switch's token: only /v1/authorize, only calls whose server_id is SERVER")
@click.option("--expires-days", type=click.IntRange(min=1), default=None,
              help="refused after this many days; default: RATING_API_TOKEN_DAYS (none: never)")
def token_create(account: str | None, server: str | None, expires_days: int | None) -> None:
    if (account is None) == (server is None):
        raise click.UsageError("give ACCOUNT, or --switch SERVER (not both)")
    days = expires_days or Settings().api_token_days
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=days) if days else None
    made = new_token(switch_account(server) if server is not None else _existing(account), expires)
    _publish(made.key, made.value)
    click.echo(made.token)
    if expires is not None:  # on stderr: standard output stays the token alone, for scripts
        click.echo(f"expires {expires.isoformat()}", err=True)


@token.command("revoke", help="Revoke ACCOUNT's tokens: all of them, or the one whose id (before the dot) is given.")
@click.argument("account")
@click.option("--id", "token_id", default=None, help="the token's id: the part before the dot")
def token_revoke(account: str, token_id: str | None) -> None:
    index = _credentials()
    ids = index.tokens_of(account)
    if token_id is not None:
        if token_id not in ids:
            click.echo(f"{account} has no token {token_id!r}", err=True)
            sys.exit(1)
        ids = [token_id]
    for ident in ids:
        _publish(TOKEN_KEY + ident, None)
    click.echo(f"revoked {len(ids)} token(s) of {account}")


@click.group(help="Portal passwords (argon2 hashes on ref.credentials).")
def password() -> None:
    pass


@password.command("set", help="Set ACCOUNT's portal password, read from standard input (one line).")
@click.argument("account")
def password_set(account: str) -> None:
    text = sys.stdin.readline().rstrip("\r\n")
    try:
        key, value = password_record(_existing(account), text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="standard input") from None
    _publish(key, value)
    _end_sessions(account)  # whoever knew the old password may be signed in with it
    click.echo(f"password set for {account}; its portal sessions are signed out")


@click.group(help="Portal sessions (their revocations and epochs on ref.credentials).")
def sessions() -> None:
    pass


@sessions.command("revoke-all", help="Sign ACCOUNT out of every portal session (its API tokens stay).")
@click.argument("account")
def sessions_revoke_all(account: str) -> None:
    _end_sessions(_existing(account))
    click.echo(f"every portal session of {account} is signed out")


def _end_sessions(account: str) -> None:
    _publish(*epoch_record(account, _credentials().sessions.next_epoch(account)))


@click.group("portal-domain", help="A reseller's own domain: its login page shows his logo and name.")
def portal_domain() -> None:
    pass


@portal_domain.command("set", help="Serve HOST's login page with RESELLER's branding.")
@click.argument("host")
@click.argument("reseller")
def portal_domain_set(host: str, reseller: str) -> None:
    try:  # the API's rule (pipeline/api/domains.py): a DNS name of two labels or more
        host = check_host(host)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="HOST") from None
    _publish(*domain_record(host, _existing(reseller, "reseller")))
    click.echo(f"{host} -> {reseller}")


def _existing(account: str, kind: str | None = None) -> str:
    """The account id if the reference data has it (of that kind); a clear error otherwise."""

    async def read():
        feed = ReferenceFeed(Settings())
        await feed.start()
        try:
            await feed.catch_up()
        finally:
            await feed.stop()
        return feed.book.account(account)

    found = asyncio.run(read())
    if account != "admin" and (found is None or kind is not None and found.type != kind):
        raise click.BadParameter(f"{account!r} is not an existing {kind or 'account'}", param_hint="ACCOUNT")
    return account


def _credentials():
    index = CredentialIndex()
    for message in asyncio.run(read_all(Settings(), REF_CREDENTIALS)):
        index.apply(message.key.decode(), message.value)
    return index


def _publish(key: str, value: bytes | None) -> None:
    asyncio.run(publish_credential_once(Settings(), key, value))
