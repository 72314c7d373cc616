"""The call's key `server_id/call_id` is unambiguous, and unchanged for ids with
neither "/" nor "%" in the server id."""
from hypothesis import given
from hypothesis import strategies as st

from pipeline.schemas.cdr import CdrIn, call_key

ids = st.text(st.sampled_from("ab/%2F5"), max_size=6) | st.text(max_size=8)


def test_the_reported_collision_is_gone():
    assert call_key("ast1/x", "y") != call_key("ast1", "x/y")
    assert (call_key("ast1/x", "y"), call_key("ast1", "x/y")) == ("ast1%2Fx/y", "ast1/x/y")


@given(ids, ids, ids, ids)
def test_two_calls_share_a_key_only_when_they_are_the_same_call(server1, call1, server2, call2):
    if call_key(server1, call1) == call_key(server2, call2):
        assert (server1, call1) == (server2, call2)


@given(ids, ids)
def test_the_first_slash_ends_the_server(server, call):
    key = call_key(server, call)
    assert "/" not in key.partition("/")[0] and key.partition("/")[2] == call


@given(st.text().filter(lambda s: "/" not in s and "%" not in s), st.text())
def test_a_server_id_without_slash_or_percent_keeps_the_old_key(server, call):
    assert call_key(server, call) == f"{server}/{call}"


def test_cdr_in_uses_it():
    cdr = CdrIn(call_id="x/y", server_id="a/b", account="u1", dst="370", start_time=0, billsec=1)
    assert cdr.call_key == "a%2Fb/x/y"
