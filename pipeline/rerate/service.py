"""The re-rating as a function for the API (`POST /v1/rerates`, admin only): same run as the CLI."""
from __future__ import annotations

from datetime import date, datetime

from pipeline.rerate.run import new_run_id, rerate
from pipeline.rerate.scope import Scope
from pipeline.settings import Settings


async def run_rerate(settings: Settings, first: date | datetime, last: date | datetime, *, account: str | None = None,
                     reseller: str | None = None, dry_run: bool = False, run_id: str | None = None) -> dict:
    """Run (or, with the id of an earlier run, continue) a re-rating; its id and per-account table.
    Raises scope.ScopeError (a 422) for a bad period or both account and reseller."""
    scope = Scope.of_days(first, last, account, reseller)
    run_id = run_id or new_run_id()
    summary = await rerate(settings, scope, run_id, dry_run=dry_run)
    return {"id": run_id, "dry_run": dry_run, **summary.as_json()}
