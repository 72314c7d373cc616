"""A calling card's dial string (*CARD*PIN#DESTINATION) as the Kamailio bridge reads it, what it asks
/v1/authorize and answers Kamailio, and the card CDR acc writes: the PIN never leaves the question."""
from __future__ import annotations

import logging

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.adapters import AdapterError, kamailio_acc
from pipeline.adapters.card_dial import (
    CARD_LENGTHS,
    DESTINATION_LENGTHS,
    PIN_LENGTHS,
    CardDial,
    DialError,
    is_card_dial,
    mask_pins,
    parse_card_dial,
)
from pipeline.adapters.common import SwitchContext
from pipeline.adapters.kamailio_evapi import answered, authorize_body, bad_dial, card_dial
from pipeline.schemas.cdr import CdrIn

CONTEXT = SwitchContext("kamailio1")


def digits(lengths: tuple[int, int]) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=lengths[0], max_size=lengths[1])


@pytest.mark.parametrize("user, expected", [
    ("*5550001234*4321#37060000000", CardDial("5550001234", "4321", "37060000000")),
    ("*5550001234*4321%2337060000000", CardDial("5550001234", "4321", "37060000000")),  # a phone's escape
    ("%2A5550001234%2a4321%2337060000000", CardDial("5550001234", "4321", "37060000000")),
    ("*5550001234#37060000000", CardDial("5550001234", "", "37060000000")),  # no PIN: the API says 227
    ("#37060000000", CardDial("", "", "37060000000")),  # the caller id's card
    ("%2337060000000", CardDial("", "", "37060000000")),
])
def test_the_dial_strings_a_caller_may_dial(user, expected):
    assert is_card_dial(user)
    assert parse_card_dial(user) == expected


@pytest.mark.parametrize("user, says", [
    ("37060000000", "starts with"),
    ("*5550001234*4321", "no #"),
    ("*5550001234*4321#", "destination is missing"),
    ("*5550001234*4321#3706a", "digits only"),
    ("*555*4321#37060000000", "6-20 digits"),
    ("*5550001234*12#37060000000", "4-8 digits"),
    ("*5550001234*123456789#37060000000", "4-8 digits"),
    ("*5550001234**4321#37060000000", "too many"),
    ("*5550001234*43 1#37060000000", "digits only"),
    ("*5550001234*4321#" + "1" * 33, "1-32 digits"),
    ("*٥٥٥٠٠٠١٢٣٤*4321#37060000000", "digits only"),  # Unicode digits are not dialled digits
    ("*" + "1" * 500, "longer than"),
])
def test_what_is_not_a_dial_string_says_why(user, says):
    with pytest.raises(DialError, match=says):
        parse_card_dial(user)


def test_an_ordinary_number_is_no_card_call():
    assert not is_card_dial("37060000000") and not is_card_dial("") and not is_card_dial("+3706")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789*#%23aA x\u0663"), max_size=90) | st.text(max_size=90))
def test_any_text_is_a_dial_or_a_clear_error(user):
    try:
        dial = parse_card_dial(user)
    except DialError as exc:
        assert str(exc)
        return
    assert is_card_dial(user)
    parts = [(dial.destination, DESTINATION_LENGTHS)]
    parts += [(part, lengths) for part, lengths in ((dial.card, CARD_LENGTHS), (dial.pin, PIN_LENGTHS)) if part]
    for part, (low, high) in parts:
        assert part.isascii() and part.isdigit() and low <= len(part) <= high
    assert parse_card_dial(dial.masked.replace("xxxx", "0000")).card == dial.card
    assert not dial.pin or dial.pin not in repr(dial).replace(dial.card, "").replace(dial.destination, "")


@settings(max_examples=300, deadline=None)
@given(digits(CARD_LENGTHS), digits(PIN_LENGTHS), digits(DESTINATION_LENGTHS), st.booleans())
def test_a_dial_string_reads_back_and_its_pin_is_masked(card, pin, destination, escaped):
    user = f"*{card}*{pin}{'%23' if escaped else '#'}{destination}"
    assert parse_card_dial(user) == CardDial(card, pin, destination)
    dial = parse_card_dial(user)
    assert dial.masked == f"*{card}*xxxx#{destination}"
    # the repr names card and destination, never the PIN (compared whole: the PIN's digits may
    # well occur inside the card number or the destination)
    assert repr(dial) == f"CardDial(card={card!r}, pin='<hidden>', destination={destination!r})"
    assert mask_pins(f"frame {user!r} and more") == f"frame '*{card}*xxxx{'%23' if escaped else '#'}{destination}' and more"


def test_the_bridge_asks_with_card_and_pin_and_account_empty():
    question = {"tindex": 1, "tlabel": 2, "call_id": "c1", "account": "37061111111", "src": "37061111111",
                "dst": "*5550001234*4321%2337060000000", "invite_ts": "1795777233.586918"}
    dial = card_dial(question)
    body = authorize_body(question, "kamailio1", dial)
    assert body == {"server_id": "kamailio1", "call_id": "c1", "account": "", "card": "5550001234", "pin": "4321",
                    "dst": "37060000000", "src": "37061111111", "setup_time": "2026-11-27T11:00:33.586918+00:00"}
    answer = {"allowed": True, "max_seconds": 7, "reason": "ok", "sip_code": None, "account": "5550001234",
              "balance": "0.035", "holds": {"5550001234": "0.035"}}
    reply = answered(question, answer, dial)
    assert (reply["card"], reply["dst"], reply["allowed"], reply["max_seconds"]) == ("5550001234", "37060000000", 1, 7)
    assert "4321" not in orjson.dumps(reply).decode()  # the reply goes to Kamailio, which logs parts of it


def test_a_caller_id_card_is_asked_without_card_and_an_ordinary_call_as_before():
    by_caller = {"tindex": 1, "tlabel": 2, "call_id": "c2", "account": "37061111111", "src": "37061111111",
                 "dst": "%2337060000000"}
    body = authorize_body(by_caller, "k", card_dial(by_caller))
    assert (body["account"], body["src"], body["dst"], "card" in body, "pin" in body) == \
        ("", "37061111111", "37060000000", False, False)
    reply = answered(by_caller, {"allowed": True, "max_seconds": 5, "account": "5550001234"}, card_dial(by_caller))
    assert reply["card"] == "5550001234"  # the card the API found for the caller id
    plain = {"tindex": 1, "tlabel": 2, "call_id": "c3", "account": "u1", "src": "u1", "dst": "37060000000"}
    assert card_dial(plain) is None
    assert authorize_body(plain, "k") == {"server_id": "k", "call_id": "c3", "account": "u1", "dst": "37060000000",
                                          "src": "u1"}
    assert (answered(plain, {"allowed": True, "max_seconds": 5, "account": "u1"})["card"]) == ""


def test_a_bad_dial_string_is_refused_with_484_without_its_pin():
    question = {"tindex": 3, "tlabel": 4, "call_id": "c4", "dst": "*5550001234*43210#"}
    with pytest.raises(DialError) as caught:
        card_dial(question)
    reply = bad_dial(question, caught.value)
    assert (reply["sip_code"], reply["phrase"], reply["allowed"]) == (484, "Address Incomplete", 0)
    assert "43210" not in orjson.dumps(reply).decode()


async def test_the_bridge_never_logs_the_pin(caplog):
    import httpx

    from pipeline.adapters.kamailio_authorize import AuthorizeBridge

    seen = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(orjson.loads(request.content))
        return httpx.Response(422, json={"detail": [{"msg": "bad", "input": seen[-1]["pin"]}]})

    async with httpx.AsyncClient(base_url="http://api", transport=httpx.MockTransport(api)) as client:
        bridge = AuthorizeBridge(("127.0.0.1", 1), client, "kamailio1", 1.0)
        with caplog.at_level(logging.DEBUG):
            reply = await bridge.ask({"tindex": 1, "tlabel": 2, "call_id": "c5", "account": "3706", "src": "3706",
                                      "dst": "*5550001234*9876#37060000000"})
    assert seen[0]["pin"] == "9876" and reply["outcome"] == "unavailable"
    assert "9876" not in caplog.text and "9876" not in reply["detail"]


CARD_LINE = (" 1(12094) ALERT: acc [acc_cdr.c:395]: log_write_cdr(): start_time=1795777233.586; "
             "end_time=1795777240.095; duration=6.509; callid=k-1@127.0.0.1; account=; card=5550001234; "
             "src=37061111111; dst=37060000000; src_ip=127.0.0.1; invite_ts=1795777233.586918; "
             "answer_ts=1795777233.588433; sip_code=200; sip_reason=OK; from_tag=a; to_tag=b")


def test_a_card_cdr_names_the_card_with_account_empty():
    cdr = kamailio_acc(CARD_LINE, CONTEXT)
    assert not isinstance(cdr, AdapterError), cdr
    assert (cdr["card"], cdr["account"], cdr["src"], cdr["dst"]) == ("5550001234", "", "37061111111", "37060000000")
    assert "card" not in cdr["switch_fields"] and "src" not in cdr["switch_fields"]
    assert cdr["billsec"] == 7
    assert CdrIn.model_validate(cdr).account == "5550001234"  # the pipeline charges the card's own account


@pytest.mark.parametrize("unset", ["card=<null>; ", "card=; ", "card=n/a; ", ""])
def test_an_ordinary_cdr_has_no_card(unset):
    line = CARD_LINE.replace("account=; card=5550001234; ", f"account=u1; {unset}").replace("src=37061111111; ", "")
    cdr = kamailio_acc(line, CONTEXT)
    assert (cdr["account"], cdr["src"], "card" in cdr) == ("u1", "u1", False)


def test_a_card_that_is_not_a_number_is_no_cdr():
    assert isinstance(kamailio_acc(CARD_LINE.replace("card=5550001234", "card=*555*1234#"), CONTEXT), AdapterError)
