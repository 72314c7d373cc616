"""Alert definitions (kind `alert`) and their write rules: what `ref apply` and the API refuse."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.reference.book import ReferenceBook
from pipeline.reference.ownership import check_records
from pipeline.reference.records import parse_reference_record

WORLD = [
    {"kind": "tariff", "id": "t", "owner": "admin", "rates": [{"prefix": "", "rate": "1"}]},
    {"kind": "tariff", "id": "t-r1", "owner": "r1", "rates": [{"prefix": "", "rate": "2"}]},
    {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t", "pro": True},
    {"kind": "account", "id": "r2", "type": "reseller", "tariff": "t"},
    {"kind": "account", "id": "u1", "type": "user", "parent": "r1", "tariff": "t-r1"},
    {"kind": "account", "id": "u2", "type": "user", "parent": "r2"},
    {"kind": "provider", "id": "p1", "tariff": "t"},
    {"kind": "provider", "id": "p-r1", "owner": "r1", "tariff": "t-r1"},
]


def alert(**fields) -> dict:
    return {"kind": "alert", "id": "a1", "scope": {"type": "account", "id": "u1"}, "metric": "calls",
            "window_seconds": 60, "op": ">", "threshold": "10", **fields}


@pytest.fixture
def book() -> ReferenceBook:
    book = ReferenceBook()
    for obj in WORLD:
        book.apply(parse_reference_record(obj))
    return book


def rules_broken(book, writer, *objs) -> list[str]:
    return [p.rule for p in check_records([parse_reference_record(o) for o in objs], book, writer)]


@pytest.mark.parametrize("fields, words", [
    ({"window_seconds": 61}, "window_seconds must be one of"),
    ({"scope": {"type": "account"}}, "names its id"),
    ({"scope": {"type": "prefix"}}, "names its prefix"),
    ({"scope": {"type": "prefix", "prefix": "90x"}}, "digits"),
    ({"metric": "simultaneous_calls", "scope": {"type": "provider", "id": "p1"}}, "counted per account"),
    ({"action": "block", "scope": {"type": "provider", "id": "p1"}}, "cannot block"),
    ({"metric": "asr", "threshold": 120}, "percentage"),
    ({"clear_threshold": 11}, "clear_threshold is at most"),
    ({"op": "<", "clear_threshold": 9}, "clear_threshold is at least"),
    ({"webhook": "ftp://x"}, "http"),
    ({"threshold": "-1"}, "at least 0"),
])
def test_a_malformed_alert_is_refused_saying_why(fields, words):
    with pytest.raises(ValidationError, match=words):
        parse_reference_record(alert(**fields))


def test_the_book_keeps_alerts_and_forgets_deleted_ones(book):
    book.apply(parse_reference_record(alert()))
    assert [a.id for a in book.alerts()] == ["a1"] and book.alert("a1").clears_at == 10
    book.delete("alert", "a1")
    assert book.alerts() == [] and book.copy().alerts() == []


def test_the_admin_sets_alerts_on_anything_that_exists(book):
    assert rules_broken(book, "admin", alert(), alert(id="a2", scope={"type": "provider", "id": "p1"}),
                        alert(id="a3", scope={"type": "all_users", "billing": "prepaid"})) == []
    assert rules_broken(book, "admin", alert(scope={"type": "account", "id": "nobody"})) == [
        'alert "a1": scope account "nobody" does not exist']
    assert "no reseller" in rules_broken(book, "admin", alert(scope={"type": "reseller_users", "id": "u1"}))[0]


def test_a_reseller_sets_alerts_only_on_his_own_users_and_providers(book):
    assert rules_broken(book, "r1", alert(owner="r1"), alert(id="a2", owner="r1", scope={"type": "reseller_users",
                        "id": "r1"}), alert(id="a3", owner="r1", scope={"type": "provider", "id": "p-r1"})) == []
    assert "only watch his own users" in rules_broken(book, "r1", alert(owner="r1", scope={"type": "account",
                                                                                            "id": "u2"}))[0]
    assert "only watch his own users" in rules_broken(book, "r1", alert(owner="r1", scope={"type": "reseller_users",
                                                                                            "id": "r2"}))[0]
    assert "providers he owns" in rules_broken(book, "r1", alert(owner="r1", scope={"type": "provider", "id": "p1"}))[0]
    assert "alerts of his own" in rules_broken(book, "r1", alert())[0]  # owner admin
    assert "may not write reference data" in rules_broken(book, "u1", alert(owner="u1"))[0]


def test_a_reseller_cannot_take_over_the_admins_alert(book):
    book.apply(parse_reference_record(alert()))
    assert "belongs to \"admin\"" in rules_broken(book, "r1", alert(owner="r1"))[0]


def test_a_record_may_name_an_account_made_earlier_in_the_same_run(book):
    new_user = {"kind": "account", "id": "u9", "type": "user", "parent": "r1", "tariff": "t-r1"}
    assert rules_broken(book, "admin", new_user, alert(scope={"type": "account", "id": "u9"})) == []
