"""Write limits of reference data (write_limits.py) on the path `ref apply` and the API share
(ownership.check_records): a new record's id follows the id rule, texts have a maximum length,
and what was stored before the rules is still read, updated and referred to."""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.reference.book import ReferenceBook
from pipeline.reference.ownership import check_records
from pipeline.reference.publish import ApplyError, read_files, refuse_broken
from pipeline.reference.records import parse_reference_record
from pipeline.reference.write_limits import NEW_ID

BASE = [
    {"kind": "tariff", "id": "t-buy", "rates": [{"prefix": "370", "rate": "1"}]},
    {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t-buy"},
]
LOOK_ALIKES = ["\u0430dmin", "\uff55\uff11", "u\u200b1", "u\u00001", "u\t1", "u 1", "-u1", "_u1", "u" * 65,
               "u1\n", "\u00fc1", "u/1", "u:1", ""]


def book_of(records) -> ReferenceBook:
    """A book as the reference topics leave it: records read without the write rules."""
    book = ReferenceBook()
    for record in records:
        book.apply(parse_reference_record(record))
    return book


def rules(book, records, writer="admin") -> list[str]:
    return [problem.rule for problem in check_records([parse_reference_record(r) for r in records], book, writer)]


@pytest.mark.parametrize("new_id", LOOK_ALIKES[:-1])
def test_a_new_account_tariff_or_provider_id_follows_the_id_rule(new_id):
    book = book_of(BASE)
    for record in ({"kind": "account", "id": new_id, "type": "user", "parent": "r1"},
                   {"kind": "tariff", "id": new_id, "owner": "r1"},
                   {"kind": "provider", "id": new_id, "tariff": "t-buy"}):
        found = rules(book, [record])
        assert len(found) == 1 and f"id: a new {record['kind']} id is 1-64 ASCII letters" in found[0], found


def test_what_the_id_rule_takes():
    book = book_of(BASE)
    for good in ("u1", "U-1.a_b", "1", "a" * 64, "admin-2"):
        assert rules(book, [{"kind": "account", "id": good, "type": "user", "parent": "r1"}]) == []


@given(st.text(max_size=70))
def test_the_id_rule_is_ascii_letters_digits_and_three_marks(text):
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    expected = 1 <= len(text) <= 64 and set(text) <= allowed and text[0] not in "._-"
    assert (NEW_ID.match(text) is not None) == expected


def test_an_error_shows_an_invisible_or_foreign_character_and_stays_short():
    book = book_of(BASE)
    [rule] = rules(book, [{"kind": "account", "id": "u\u200b" + "x" * 60_000, "type": "user", "parent": "r1"}])
    assert "\\u200b" in rule and len(rule) < 400


def test_records_stored_before_the_rules_are_read_updated_and_referred_to():
    legacy = "\u0430dmin user " + "x" * 100
    book = book_of([*BASE, {"kind": "account", "id": legacy, "type": "user", "parent": "r1", "name": "N" * 10_000,
                            "server": "old switch"},
                    {"kind": "tariff", "id": "t " + "y" * 300, "owner": "r1"}])
    assert book.account(legacy).name == "N" * 10_000  # read as stored
    assert rules(book, [{"kind": "account", "id": legacy, "type": "user", "parent": "r1", "server": "old switch",
                         "tariff": "t " + "y" * 300}]) == []  # updated, keeping its server, naming a long id


def test_texts_have_a_maximum_on_every_write():
    book = book_of([*BASE, {"kind": "account", "id": "u1", "type": "user", "parent": "r1"}])
    for record, field in (({"kind": "account", "id": "u1", "type": "user", "parent": "r1", "name": "n" * 201}, "name"),
                          ({"kind": "account", "id": "u2", "type": "user", "parent": "p" * 201}, "parent"),
                          ({"kind": "provider", "id": "p2", "tariff": "t" * 201}, "tariff"),
                          ({"kind": "did", "number": "370", "reseller": "r" * 201}, "reseller")):
        [rule] = rules(book, [record])
        assert f": {field}: " in rule and ("at most 200" in rule or "longer than 200" in rule), rule


def test_a_new_or_changed_server_follows_the_id_rule():
    book = book_of([*BASE, {"kind": "account", "id": "u1", "type": "user", "parent": "r1", "server": "ast1"}])
    [rule] = rules(book, [{"kind": "account", "id": "u1", "type": "user", "parent": "r1", "server": "ast 1"}])
    assert "server: a server name is 1-64" in rule
    assert rules(book, [{"kind": "account", "id": "u1", "type": "user", "parent": "r1", "server": "kamailio-2"}]) == []


def test_a_new_did_has_digits_only_and_at_most_32_of_them():
    book = book_of(BASE)
    [rule] = rules(book, [{"kind": "did", "number": "3" * 33}])
    assert "at most 32 digits" in rule
    assert rules(book, [{"kind": "did", "number": "3" * 32}]) == []
    with pytest.raises(ValueError, match="digits 0-9"):
        parse_reference_record({"kind": "did", "number": "+37052000001"})


def test_ref_apply_names_the_file_the_record_and_the_rule(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps([*BASE, {"kind": "account", "id": "\u0430dmin", "type": "user", "parent": "r1"}]))
    with pytest.raises(ApplyError) as caught:
        refuse_broken(ReferenceBook(), read_files([str(path)]))
    [error] = caught.value.errors
    assert error.startswith(f"{path} record 3") and 'id: a new account id is' in error and "\\u0430dmin" in error
