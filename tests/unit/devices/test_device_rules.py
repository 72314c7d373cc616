"""Device records and their write rules (pipeline/schemas/devices.py, pipeline/reference/device_rules.py):
what a device must name, who may write it, and that no two live devices claim one key; refusals to
a reseller never name another tenant's device or account."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.reference.book import ReferenceBook
from pipeline.reference.ownership import check_records
from pipeline.reference.records import parse_reference_record
from pipeline.schemas.devices import DeviceIn

WORLD = [
    {"kind": "tariff", "id": "t-buy", "owner": "admin", "rates": [{"prefix": "370", "rate": "1"}]},
    {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t-buy"},
    {"kind": "account", "id": "r2", "type": "reseller", "tariff": "t-buy"},
    {"kind": "tariff", "id": "t-r1", "owner": "r1", "rates": [{"prefix": "370", "rate": "2"}]},
    {"kind": "tariff", "id": "t-r2", "owner": "r2", "rates": [{"prefix": "370", "rate": "2"}]},
    {"kind": "account", "id": "u1", "type": "user", "parent": "r1", "tariff": "t-r1"},
    {"kind": "account", "id": "u2", "type": "user", "parent": "r2", "tariff": "t-r2"},
    {"kind": "device", "id": "dev-u2", "account": "u2", "server": "ast1", "sip_user": "2002",
     "accountcode": "acc-u2"},
    {"kind": "device", "id": "dev-u2-all", "account": "u2", "sip_user": "7007"},
]


@pytest.fixture()
def book() -> ReferenceBook:
    made = ReferenceBook()
    for obj in WORLD:
        made.apply(parse_reference_record(obj))
    return made


def device(**fields) -> DeviceIn:
    return DeviceIn.model_validate({"kind": "device", "id": "d-new", "account": "u1", **fields})


def rule(book, record, writer="admin") -> str | None:
    problems = check_records([record], book, writer)
    return problems[0].rule if problems else None


def test_a_device_needs_a_key_and_a_real_ip():
    with pytest.raises(ValidationError, match="at least one of sip_user, ip, accountcode"):
        device()
    with pytest.raises(ValidationError, match="IPv4 or IPv6"):
        device(ip="10.0.0.256")
    assert device(ip="10.0.0.5:5060").ip == "10.0.0.5" and device(ip="[2001:DB8::0:1]:5060").ip == "2001:db8::1"
    assert device(sip_user=1001, server="").sip_user == "1001" and device(sip_user="x", server="*").server is None


def test_the_admin_writes_any_device_and_a_reseller_his_users_and_his_own(book):
    assert rule(book, device(sip_user="1001")) is None
    assert rule(book, device(sip_user="1001"), "r1") is None
    assert rule(book, device(account="r1", ip="10.1.1.1"), "r1") is None
    refused = rule(book, device(account="u2", sip_user="1001"), "r1")
    assert refused == 'reseller "r1" may only write devices of his own users (device "d-new")'
    assert "u2" not in refused
    assert rule(book, device(id="dev-u2", account="u1", sip_user="1001"), "r1") == \
        'reseller "r1" may only write devices of his own users (device "dev-u2")'  # taking over another's
    assert "only the admin and resellers" in rule(book, device(sip_user="1001"), "u1")


def test_the_account_must_exist_and_be_able_to_pay(book):
    assert rule(book, device(account="nobody", sip_user="1")) == 'device "d-new": account "nobody" does not exist'
    assert "the admin has no balance" in rule(book, device(account="admin", sip_user="1"))


@pytest.mark.parametrize("fields, clash", [
    ({"server": "ast1", "sip_user": "2002"}, 'sip_user "2002" on server "ast1"'),
    ({"accountcode": "acc-u2"}, 'accountcode "acc-u2"'),
    ({"server": "ast9", "accountcode": "acc-u2"}, 'accountcode "acc-u2"'),  # one per installation
    ({"sip_user": "7007"}, 'sip_user "7007" on every server'),
])
def test_two_devices_never_claim_one_key(book, fields, clash):
    told_admin = rule(book, device(**fields))
    assert told_admin.startswith(f"{clash} is already claimed by device") and '(account "u2")' in told_admin
    told_reseller = rule(book, device(**fields), "r1")
    assert told_reseller.startswith(f"{clash} is already claimed by a device of another account")
    assert "dev-u2" not in told_reseller and "u2" not in told_reseller.replace(clash, "")


def test_another_server_or_an_archived_device_leaves_the_key_free(book):
    assert rule(book, device(server="ast2", sip_user="2002")) is None
    book.apply(parse_reference_record({**WORLD[7], "archived": True}))
    assert rule(book, device(server="ast1", sip_user="2002", accountcode="acc-u2"), "r1") is None
    # and an archived device claims nothing when it is written either
    assert rule(book, device(id="old", server="ast1", sip_user="2002", archived=True), "r1") is None


def test_the_admin_may_override_an_all_servers_device_on_one_server_a_reseller_only_his_own(book):
    override = device(server="ast1", sip_user="7007")
    assert rule(book, override) is None
    told = rule(book, override, "r1")
    assert told.startswith('sip_user "7007" is claimed by a device of another account on every server')
    assert rule(book, device(sip_user="2002"), "r1").startswith('sip_user "2002" is claimed by a device of another '
                                                                  "account on some server")
    book.apply(parse_reference_record({"kind": "device", "id": "mine-all", "account": "u1", "sip_user": "5005"}))
    assert rule(book, device(server="ast1", sip_user="5005"), "r1") is None


def test_records_of_one_run_see_each_other(book):
    first, second = device(id="a", sip_user="3003"), device(id="b", sip_user="3003")
    problems = check_records([first, second], book, "r1")
    assert [p.position for p in problems] == [1] and 'device "a"' in problems[0].rule  # his own: named


def test_an_account_cannot_be_archived_while_a_live_device_calls_as_it(book):
    archived = parse_reference_record({**WORLD[6], "archived": True})
    told = rule(book, archived)
    assert told is not None and 'calls through device "dev-u2' in told


def test_the_book_forgets_a_deleted_or_archived_device(book):
    assert book.device("dev-u2") is not None
    book.delete("device", "dev-u2")
    assert book.device("dev-u2") is None and rule(book, device(server="ast1", sip_user="2002")) is None
