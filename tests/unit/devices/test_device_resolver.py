"""The one resolver of callers by device (pipeline/reference/devices.py) against a plain model of
the match order, over random device tables and random changes to them (hypothesis)."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.reference.book import ReferenceBook
from pipeline.reference.devices import Caller, DeviceIndex, resolve_caller
from pipeline.schemas.device_keys import DeviceKeys
from pipeline.schemas.devices import DeviceIn

SERVERS = (None, "ast1", "ast2")
SIP_USERS = ("1001", "1002", "1003")
IPS = ("10.0.0.5", "10.0.0.6", "2001:db8::1")
CODES = ("acc-a", "acc-b")

devices = st.tuples(
    st.integers(0, 7), st.sampled_from(SERVERS), st.sampled_from((None,) + SIP_USERS), st.sampled_from((None,) + IPS),
    st.sampled_from((None, None) + CODES), st.booleans(),
).filter(lambda fields: any(fields[2:5])).map(lambda fields: DeviceIn(
    id=f"d{fields[0]}", account=f"u{fields[0]}", server=fields[1], sip_user=fields[2], ip=fields[3],
    accountcode=fields[4], archived=fields[5]))
changes = st.lists(st.one_of(devices, st.integers(0, 7).map(lambda n: f"d{n}")), max_size=25)
questions = st.tuples(st.sampled_from(("ast1", "ast2", "ast3")),
                      st.builds(DeviceKeys, sip_user=st.sampled_from((None,) + SIP_USERS),
                                ip=st.sampled_from((None,) + IPS), accountcode=st.sampled_from((None,) + CODES)))


def claims(device: DeviceIn) -> set[tuple]:
    return set() if device.archived else set(device.keys())


def model(table: dict[str, DeviceIn], server: str, keys: DeviceKeys) -> DeviceIn | None:
    """docs/devices.md, read literally: accountcode (its device for this server or every server),
    then the SIP user, then the IP, each on this server's device first and an all-servers one next."""
    live = [d for d in table.values() if not d.archived]
    if keys.accountcode:
        for found in live:
            if found.accountcode == keys.accountcode and found.server in (None, server):
                return found
    for name in ("sip_user", "ip"):
        wanted = getattr(keys, name)
        for scope in (server, None):
            for found in live:
                if wanted and getattr(found, name) == wanted and found.server == scope:
                    return found
    return None


def apply(table: dict, index: DeviceIndex, change) -> None:
    """A change the write rules would let through: a delete, or a device no other live one shares a
    key with (pipeline/reference/device_rules.py refuses the others)."""
    if isinstance(change, str):
        table.pop(change, None)
        index.remove(change)
        return
    taken = set().union(*(claims(d) for i, d in table.items() if i != change.id))
    if claims(change) & taken:
        return
    table[change.id] = change
    index.put(change)


@settings(max_examples=150, deadline=None)
@given(changes, st.lists(questions, min_size=1, max_size=10))
def test_the_index_answers_as_the_model_after_any_changes(steps, asked):
    table: dict[str, DeviceIn] = {}
    index = DeviceIndex()
    for change in steps:
        apply(table, index, change)
    assert {d.id for d in index.all()} == set(table)
    for server, keys in asked:
        assert index.match(server, keys) == model(table, server, keys), (server, keys, table)


@settings(max_examples=60, deadline=None)
@given(changes, questions)
def test_a_copy_is_independent(steps, question):
    table, index = {}, DeviceIndex()
    for change in steps:
        apply(table, index, change)
    copy = index.copy()
    for device_id in list(table):
        index.remove(device_id)
    assert copy.match(*question) == model(table, *question)
    assert index.match(*question) is None


def test_one_server_wins_over_every_server_and_accountcode_comes_first():
    book = ReferenceBook()
    for record in (DeviceIn(id="all", account="u-all", sip_user="1001", ip="10.0.0.5"),
                   DeviceIn(id="ast1", account="u-ast1", server="ast1", sip_user="1001"),
                   DeviceIn(id="code", account="u-code", server="ast2", accountcode="77")):
        book.apply(record)
    keys = DeviceKeys(sip_user="1001", ip="10.0.0.5", accountcode="77")
    assert resolve_caller(book, "ast1", keys) == Caller("u-ast1", book.device("ast1"))
    assert resolve_caller(book, "ast2", keys).account == "u-code"
    assert resolve_caller(book, "ast3", keys).account == "u-all"  # the accountcode's device is ast2's only
    assert resolve_caller(book, "ast3", DeviceKeys(ip="10.0.0.5:5060")).account == "u-all"
    assert resolve_caller(book, "ast1", None, "code") == \
        'no account; no device for id "code" on server "ast1"'  # a device's id counts on its own server only
    assert resolve_caller(book, "ast2", None, "code").account == "u-code"


def test_what_was_tried_is_named():
    told = resolve_caller(ReferenceBook(), "ast1", DeviceKeys(sip_user="1001", ip="10.0.0.5"))
    assert told == 'no account; no device for sip_user "1001", ip "10.0.0.5" on server "ast1"'
