"""Usage queries: the account is a bound parameter, the columns are the account's own level."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from pipeline.invoices import queries
from pipeline.invoices.period import Period

START, END = Period(2026, 10).bounds(ZoneInfo("Europe/Rome"))
HOSTILE = "u1' OR 1=1 --"


def test_a_users_query_binds_the_account_in_every_leg_and_reads_his_own_columns():
    query = queries.account_usage("rating", "user", HOSTILE, START, END)
    assert HOSTILE not in query.sql and query.params["account"] == HOSTILE
    # his calls, the DIDs he called, the DIDs he owns: each leg filtered on the bound account
    assert query.sql.count("= %(account)s") == 3
    for where in ("account = %(account)s", "did_owner = %(account)s"):
        assert where in query.sql
    assert "user_price" in query.sql and "reseller_price" not in query.sql
    assert query.sql.count("rating.rated_calls FINAL") == 3


def test_a_resellers_query_reads_his_buying_price_and_what_he_pays_for_his_users_dids():
    query = queries.account_usage("rating", "reseller", "r1", START, END)
    assert "reseller = %(account)s" in query.sql and "reseller_price" in query.sql
    assert "did_reseller_owner_price" in query.sql and "user_price" not in query.sql


def test_the_bounds_are_utc_strings_of_the_issuers_month():
    query = queries.account_usage("rating", "user", "u1", START, END)
    assert (query.params["start"], query.params["end"]) == ("2026-09-30 22:00:00", "2026-10-31 23:00:00")
    assert "toDateTime(%(start)s, 'UTC')" in query.sql


def test_no_aggregate_takes_the_name_of_a_column_it_sums():  # an error on ClickHouse 18.16
    for query in (queries.account_usage("db", "user", "u1", START, END), queries.all_usage("db", "reseller", START, END),
                  queries.totals("db", "user", START, END)):
        for column in ("user_price", "reseller_price", "user_prefix", "reseller_prefix", "account", "reseller",
                       "did_owner", "did_owner_price", "did_incoming_price", "did_reseller_owner_price"):
            assert f"AS {column} " not in query.sql and f"AS {column}," not in query.sql


def test_the_all_accounts_query_groups_by_the_scope_and_skips_empty_scopes():
    query = queries.all_usage("db", "reseller", START, END)
    assert "GROUP BY invoiced, destination, currency" in query.sql and "reseller != ''" in query.sql
    assert "did_owner != ''" in query.sql  # the DIDs' owners: an unassigned DID's leg is nobody's


def test_admins_and_unknown_types_and_odd_database_names_are_refused():
    with pytest.raises(ValueError, match="not invoiced"):
        queries.account_usage("db", "admin", "admin", START, END)
    with pytest.raises(ValueError, match="identifier"):
        queries.account_usage("db; DROP TABLE x", "user", "u1", START, END)


def test_aware_bounds_in_any_zone_become_the_same_utc_strings():
    rome_midnight = datetime(2026, 10, 1, tzinfo=ZoneInfo("Europe/Rome"))
    query = queries.account_usage("db", "user", "u1", rome_midnight, END)
    assert query.params["start"] == "2026-09-30 22:00:00"
    assert rome_midnight == datetime(2026, 9, 30, 22, tzinfo=timezone.utc)
