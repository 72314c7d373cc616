"""The API's pure parts: credentials, the tenant scope of the SQL, CSV neutralising, the chart."""
from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ElementTree
from datetime import date, timedelta
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.api import queries
from pipeline.api.auth import LoginLimiter
from pipeline.api.chart import daily_chart
from pipeline.api.credentials import CredentialIndex, new_token, password_record
from pipeline.api.csv_export import neutralise, to_csv
from pipeline.api.errors import TooManyAttempts
from pipeline.api.queries import Period
from pipeline.api.rates_upload import RatesRefused, rates_from_csv
from pipeline.api.visibility import Scope

PERIOD = Period(date(2026, 11, 1), date(2026, 11, 30))


def test_only_a_hash_of_the_token_is_stored_and_it_checks_the_whole_token():
    made = new_token("r1")
    stored = orjson.loads(made.value)
    assert made.token not in made.value.decode() and made.token.split(".")[1] not in made.value.decode()
    index = CredentialIndex()
    index.apply(made.key, made.value)
    assert index.account_of_token(made.token) == "r1"
    assert index.account_of_token(made.token[:-1] + ("A" if made.token[-1] != "A" else "B")) is None
    assert index.account_of_token(made.token.split(".")[0]) is None
    assert len(stored["sha256"]) == 64
    index.apply(made.key, None)  # revoked
    assert index.account_of_token(made.token) is None


def test_passwords_are_argon2_and_checked():
    key, value = password_record("u1", "a long enough secret")
    assert b"a long enough secret" not in value and b"$argon2" in value
    index = CredentialIndex()
    index.apply(key, value)
    assert index.check_password("u1", "a long enough secret")
    assert not index.check_password("u1", "a long enough secreT")
    assert not index.check_password("nobody", "a long enough secret")
    with pytest.raises(ValueError, match="at least 8"):
        password_record("u1", "short")


def test_the_first_session_secret_wins_so_every_instance_agrees():
    index = CredentialIndex()
    index.apply("secret:session", b'{"kind": "secret", "secret": "first"}')
    index.apply("secret:session", b'{"kind": "secret", "secret": "second"}')
    assert index.session_secret == "first"


tenants = st.text(min_size=1, max_size=30)


@given(tenant=tenants, account=st.none() | tenants)
def test_the_tenant_travels_as_a_parameter_never_in_the_sql(tenant, account):
    marker = "\x00" + tenant  # cannot occur in the SQL text by accident
    for role in ("reseller", "user"):
        query = queries.calls("rating", Scope(role, marker, account and "\x00" + account), PERIOD, 100, 0)
        assert query.params["tenant"] == marker and "%(tenant)s" in query.sql
        assert "\x00" not in query.sql


@pytest.mark.parametrize("role, condition", [
    ("reseller", "(reseller = %(tenant)s OR account = %(tenant)s)"), ("user", "account = %(tenant)s")])
def test_every_query_of_a_tenant_carries_its_scope(role, condition):
    scope = Scope(role, "x")
    built = [queries.calls("rating", scope, PERIOD, 10, 0)]
    if role == "reseller":
        built += [queries.stats("rating", scope, PERIOD, True), queries.profit("rating", scope, PERIOD)]
    for query in built:
        assert condition in query.sql and query.params["tenant"] == "x"


def test_a_resellers_columns_never_include_the_admins_money():
    for role in ("reseller", "user"):
        assert {"provider_price", "admin_profit"}.isdisjoint(queries.CALL_COLUMNS[role])
        sql = queries.calls("rating", Scope(role, "x"), PERIOD, 10, 0).sql
        assert "provider_price" not in sql and "admin_profit" not in sql
    assert "admin_profit" not in queries.profit("rating", Scope("reseller", "x"), PERIOD).sql
    assert "provider_price" not in queries.profit("rating", Scope("reseller", "x"), PERIOD).sql


def test_a_user_gets_no_stats_or_profit_query():
    with pytest.raises(ValueError):
        queries.stats("rating", Scope("user", "u1"), PERIOD, True)
    with pytest.raises(ValueError):
        queries.profit("rating", Scope("user", "u1"), PERIOD)


def test_the_database_name_is_checked():
    with pytest.raises(ValueError):
        queries.calls("rating; DROP TABLE x", Scope("admin", "admin"), PERIOD, 10, 0)


@given(st.text(max_size=40))
def test_no_csv_cell_can_start_a_formula(text):
    rows = list(csv.reader(io.StringIO(to_csv(["c"], [[text]]), newline="")))
    value = rows[1][0]
    assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert value == text or value == "'" + text  # the text itself survives, quoted at most


def test_neutralise_examples():
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("+37060000001") == "'+37060000001"
    assert neutralise("37060000001") == "37060000001"
    assert neutralise(Decimal("-0.35")) == "-0.35"  # a number, typed by the database: left a number


def test_login_limiter_blocks_after_the_limit_and_forgets_after_the_window():
    now = [0.0]
    limiter = LoginLimiter(attempts=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        limiter.check("account:r1")
        limiter.failed("account:r1")
    with pytest.raises(TooManyAttempts):
        limiter.check("account:r1")
    limiter.check("account:r2")  # others are not affected
    now[0] = 61
    limiter.check("account:r1")


def test_the_chart_is_valid_svg_with_escaped_text():
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(30)]
    svg = daily_chart(days, {days[3]: Decimal("12.5")}, {days[3]: Decimal("-1")}, "<EUR>")
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    assert len([e for e in root.iter() if e.tag.endswith("rect")]) == 30
    assert "<EUR>" not in svg and "&lt;EUR&gt;" in svg


def test_rates_upload_lists_every_error_and_accepts_a_good_file():
    with pytest.raises(RatesRefused) as refused:
        rates_from_csv(b"prefix,rate,colour\n1,1,red\n")
    assert 'column "colour": unknown column' in str(refused.value)
    with pytest.raises(RatesRefused) as refused:
        rates_from_csv(b"prefix,rate\n1,x\n2,y\n3,1\n3,2\n")
    assert [e.split(":")[0] for e in refused.value.errors] == ['line 2, column "rate"', 'line 3, column "rate"',
                                                              'line 5, column "prefix"']
    with pytest.raises(RatesRefused, match="not UTF-8"):
        rates_from_csv(b"prefix,rate\n\xff\xfe,1\n")
    rates = rates_from_csv(b"prefix,rate,increment\n370,2,60\n44,0.9,1\n")
    assert [(r.prefix, r.rate, r.increment) for r in rates] == [("370", Decimal(2), 60), ("44", Decimal("0.9"), 1)]
