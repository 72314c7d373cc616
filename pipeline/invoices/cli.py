"""Invoice commands: `invoice issue`, `invoice list`, `invoice issuer set|logo`.

(`bench-invoices` is devkit/bench_invoices.py's: the benchmark does not ship with the package.)

Clients only: Settings from the environment, no Faust app. Bad input ends with a one-line error
and exit code 1, never a traceback.
"""
from __future__ import annotations

import asyncio
import json
import mimetypes
from pathlib import Path

import click
from pydantic import ValidationError

from pipeline.settings import Settings


def register(group: click.Group) -> None:
    group.add_command(invoice)


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _period(text: str):
    from pipeline.invoices.period import Period

    try:
        return Period.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group(help="Invoices: issue, list, and the issuers' details and logos.")
def invoice() -> None:
    pass


@invoice.command("issue", help="Issue ACCOUNT's invoice of --period (or every account's with --all); "
                               "prints it as JSON. Issuing again returns the same invoice.")
@click.argument("account", required=False)
@click.option("--period", required=True, help="YYYY-MM, a month in the issuer's time zone")
@click.option("--all", "every", is_flag=True, help="every user and reseller (with a progress bar)")
@click.option("--draft", is_flag=True, help="an unnumbered preview; allowed for a month not over yet")
@click.option("--skip-empty", is_flag=True, help="no invoice for an account with nothing to invoice")
def issue(account: str | None, period: str, every: bool, draft: bool, skip_empty: bool) -> None:
    from pipeline.invoices.period import PeriodNotClosed
    from pipeline.invoices.prefixes import PrefixTaken
    from pipeline.invoices.service import InvoiceError, issue_all, issue_invoice

    month = _period(period)
    if every == (account is not None):
        _fail("give either ACCOUNT or --all")
    if every and draft:
        _fail("--draft is for one account")
    settings = Settings()
    try:
        if every:
            with click.progressbar(length=1, label=f"issuing {month}", file=click.get_text_stream("stderr")) as bar:
                # the bar learns its length once the accounts are known
                issued = asyncio.run(issue_all(settings, month, skip_empty=skip_empty, progress=bar.update,
                                               on_total=lambda total: setattr(bar, "length", max(total, 1))))
            _echo_json([i.printable() for i in issued])
            return
        result = asyncio.run(issue_invoice(settings, account, month, draft=draft, skip_empty=skip_empty))
    except (InvoiceError, PeriodNotClosed, PrefixTaken) as exc:
        _fail(str(exc))
    if result is None:
        click.echo(f"account {account} has nothing to invoice for {month}: no invoice (--skip-empty)", err=True)
        return
    _echo_json(result.printable())


@invoice.command("list", help="Issued invoices (number, issuer, account, period, total), oldest first.")
@click.option("--account", default=None, help="only this account's")
@click.option("--issuer", default=None, help="only this issuer's")
def list_invoices(account: str | None, issuer: str | None) -> None:
    from pipeline.invoices.ledger import read_invoices

    for item in asyncio.run(read_invoices(Settings(), account=account, issuer=issuer)):
        click.echo(f"{item.number}\t{item.issuer}\t{item.account}\t{item.period}\t{item.total} {item.currency}"
                   f"\t{item.pdf}")


@invoice.group("issuer", help="An issuer's invoice details and logo (the admin's own: account id `admin`).")
def issuer_group() -> None:
    pass


@issuer_group.command("set", help="Publish the invoice details in FILE (JSON: account, company, address, "
                                  "vat_id, bank, email, taxes, number_prefix, timezone).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def issuer_set(file: Path) -> None:
    from pipeline.invoices.issuer import IssuerDetails, PrefixTaken, publish_issuer

    try:
        details = IssuerDetails.model_validate_json(file.read_bytes())
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        _fail(f"{file}: {errors}")
    try:
        asyncio.run(publish_issuer(Settings(), details))
    except PrefixTaken as exc:
        _fail(f"{file}: {exc}")
    click.echo(f"published invoice details of {details.account}")


@issuer_group.command("logo", help="Publish IMAGE (PNG or SVG, at most 256 KiB) as ACCOUNT's logo.")
@click.argument("account")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def issuer_logo(account: str, image: Path) -> None:
    from pipeline.invoices.issuer import publish_logo

    content_type = mimetypes.guess_type(image.name)[0] or "application/octet-stream"
    try:
        stored = asyncio.run(publish_logo(Settings(), account, image.read_bytes(), content_type))
    except ValueError as exc:
        _fail(f"{image}: {exc}")
    click.echo(f"published {stored} logo of {account}")
