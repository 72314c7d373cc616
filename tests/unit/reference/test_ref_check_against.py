"""refuse_broken: ownership rules against what exists plus the earlier records of the same run."""
import json

import pytest

from pipeline.reference.book import ReferenceBook
from pipeline.reference.publish import ApplyError, read_files, refuse_broken
from tests.unit.cdr.sample_book import sample_book


def located(tmp_path, records, name="run.json"):
    path = tmp_path / name
    path.write_text(json.dumps(records))
    return str(path), read_files([str(path)])


def test_a_record_may_refer_to_an_earlier_one_of_the_same_run(tmp_path):
    _, items = located(tmp_path, [
        {"kind": "account", "id": "admin", "type": "admin"},
        {"kind": "tariff", "id": "t-buy", "rates": [{"prefix": "370", "rate": "1"}]},
        {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t-buy"},
        {"kind": "tariff", "id": "t-retail", "owner": "r1", "rates": [{"prefix": "370", "rate": "2"}]},
        {"kind": "account", "id": "u1", "type": "user", "parent": "r1", "tariff": "t-retail"},
        {"kind": "did", "number": "37052000001", "reseller": "r1", "user": "u1"},
    ])
    refuse_broken(ReferenceBook(), items)  # raises if any record is refused


def test_a_record_may_not_refer_to_a_later_one(tmp_path):
    path, items = located(tmp_path, [
        {"kind": "account", "id": "admin", "type": "admin"},
        {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t-buy"},
        {"kind": "tariff", "id": "t-buy", "rates": [{"prefix": "370", "rate": "1"}]},
    ])
    with pytest.raises(ApplyError) as caught:
        refuse_broken(ReferenceBook(), items)
    assert caught.value.errors == [f"""{path} record 2 (account 'r1'): tariff "t-buy" of reseller "r1" does not exist"""]


def test_rule_violations_name_file_record_and_rule_all_at_once(tmp_path):
    path, items = located(tmp_path, [
        # r1 assigns the admin's reseller tariff to his own user
        {"kind": "account", "id": "u9", "type": "user", "parent": "r1", "tariff": "t-r-buy"},
        # a DID given to a user of another reseller
        {"kind": "did", "number": "37052000002", "reseller": "r1", "user": "u3"},
        # a provider owned by a reseller without PRO
        {"kind": "tariff", "id": "t-r1-cost", "owner": "r1", "rates": [{"prefix": "370", "rate": "0.1"}]},
        {"kind": "provider", "id": "p9", "owner": "r1", "tariff": "t-r1-cost"},
    ])
    with pytest.raises(ApplyError) as caught:
        refuse_broken(sample_book(), items)
    errors = caught.value.errors
    assert [e.split(":")[0] for e in errors] == [
        f"{path} record 1 (account 'u9')", f"{path} record 2 (did '37052000002')", f"{path} record 4 (provider 'p9')",
    ]
    assert 'may only get a tariff of its parent "r1"' in errors[0]
    assert 'user "u3" does not belong to reseller "r1"' in errors[1]
    assert "reseller PRO" in errors[2]


def test_checking_records_against_existing_data_leaves_that_data_as_it_was(tmp_path):
    _, items = located(tmp_path, [
        {"kind": "account", "id": "u9", "type": "user", "parent": "r1", "tariff": "t-r1-retail", "billing": "postpaid"},
    ])
    existing = sample_book()
    refuse_broken(existing, items)
    assert existing.account("u9") is None  # checked, not applied
