"""ref.* messages -> mirror rows: ownership derived, deletes as typed tombstones, tariffs without rates."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import orjson
import pytest

from pipeline.sinks.reference_rows import ACCOUNT_COLUMNS, PROVIDER_COLUMNS, TARIFF_COLUMNS, mirror_row
from pipeline.sinks.rows import RowError

AT = 1764057600.5


def account(**fields) -> dict:
    value = orjson.dumps({"kind": "account", **fields})
    return dict(zip(ACCOUNT_COLUMNS, mirror_row("ref.accounts", fields["id"].encode(), value, 7, AT)))


def test_the_reseller_of_an_account_is_its_world():
    assert account(id="r1", type="reseller", parent="admin")["reseller"] == "r1"
    assert account(id="u1", type="user", parent="r1")["reseller"] == "r1"
    assert account(id="d1", type="user", parent="admin")["reseller"] == ""
    assert account(id="u2", type="user")["parent"] == "admin"  # the contract's default


def test_account_fields_keep_money_exact_and_carry_offset_and_time():
    row = account(id="u1", type="user", parent="r1", billing="postpaid", credit_limit="50", pro=True)
    assert row["credit_limit"] == Decimal("50") and row["billing"] == "postpaid" and row["pro"] == 1
    assert row["version"] == 7 and row["deleted"] == 0
    assert row["updated_at"] == datetime(2025, 11, 25, 8, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("topic, columns", [
    ("ref.accounts", ACCOUNT_COLUMNS), ("ref.tariffs", TARIFF_COLUMNS), ("ref.providers", PROVIDER_COLUMNS),
])
def test_an_empty_value_is_a_tombstone_with_typed_fields(topic, columns):
    row = dict(zip(columns, mirror_row(topic, b"x1", None, 9, AT)))
    assert (row["id"], row["deleted"], row["version"]) == ("x1", 1, 9)
    live = dict(zip(columns, mirror_row(topic, b"x1", orjson.dumps({"id": "x1", "tariff": "t"}), 8, AT)))
    # same Python types as a live row, or the insert of a delete would fail on the server
    assert {k: type(v) for k, v in row.items()} == {k: type(v) for k, v in live.items()}


def test_a_tariff_is_stored_with_its_rate_count_not_its_rates():
    value = orjson.dumps({"kind": "tariff", "id": "t1", "owner": "r1", "decimals": 4,
                          "rates": [{"prefix": "370", "rate": "2"}, {"prefix": "44", "rate": "1"}]})
    row = dict(zip(TARIFF_COLUMNS, mirror_row("ref.tariffs", b"t1", value, 1, AT)))
    assert (row["owner"], row["decimals"], row["rates"], row["currency"]) == ("r1", 4, 2, "EUR")


def test_bad_messages_raise():
    with pytest.raises(RowError):
        mirror_row("ref.accounts", None, None, 1, AT)
    with pytest.raises(RowError):
        mirror_row("ref.accounts", b"u1", b"[1, 2]", 1, AT)
    with pytest.raises(RowError, match="credit_limit"):
        mirror_row("ref.accounts", b"u1", b'{"id": "u1", "type": "user", "credit_limit": 1.5}', 1, AT)
