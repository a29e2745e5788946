"""Sends: Meta's success shape, each limit refused with Meta's code and wording, templates,
mark-as-read, the token and the phone number id, rate limits and injected faults."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from bot.wa_emulator import CloudApiEmulator, Customer
from tests.wa_emulator.conftest import (
    ANA,
    PHONE_ID,
    buttons,
    list_message,
    post,
    rows,
    template,
    text,
)


async def test_text_answer_has_meta_shape(
    emulator: CloudApiEmulator, ana: Customer, http: aiohttp.ClientSession
) -> None:
    status, answer = await post(http, emulator, text("+373 600 00001", "Thanks!"))
    assert status == 200
    assert answer["messaging_product"] == "whatsapp"
    assert answer["contacts"] == [{"input": "+373 600 00001", "wa_id": ANA}]
    (sent,) = answer["messages"]
    assert set(sent) == {"id"} and sent["id"].startswith("wamid.HBg")
    message = await ana.wait_for_message(lambda m: m.text == "Thanks!")
    assert message.id == sent["id"] and message.input == "+373 600 00001"
    assert emulator.calls[-1].status == 200 and emulator.calls[-1].body["to"] == "+373 600 00001"


def _error(answer: dict[str, Any]) -> dict[str, Any]:
    assert set(answer) == {"error"}
    error = answer["error"]
    assert error["type"] in ("OAuthException", "GraphMethodException")
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    return error


def _section(title: str | None, count: int, prefix: str) -> dict[str, Any]:
    section: dict[str, Any] = {"rows": rows(count, prefix)}
    if title is not None:
        section["title"] = title
    return section


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node = body
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node[key]
    node[keys[-1]] = value
    return body


LIMITS = [
    # (case, body, HTTP status, code, text in message or details)
    ("text 4097", text(ANA, "x" * 4097), 400, 100, "text['body'] must be at most 4096"),
    ("text empty", text(ANA, ""), 400, 100, "text['body'] is required"),
    ("4 buttons", buttons(ANA, ["A", "B", "C", "D"]), 400, 131009, "Max allowed buttons: 3"),
    ("0 buttons", buttons(ANA, []), 400, 131009, "Invalid buttons count"),
    ("title 21", buttons(ANA, ["x" * 21]), 400, 131009, "Button title length invalid"),
    ("title empty", buttons(ANA, [""]), 400, 131009, "Button title length invalid"),
    (
        "id 257",
        _set(buttons(ANA, ["A"]), "interactive.action.buttons.0.reply.id", "i" * 257),
        400,
        131009,
        "Button id length invalid. Min length: 1, Max length: 256",
    ),
    ("same title", buttons(ANA, ["A", "A"]), 400, 131009, "Duplicate button"),
    (
        "same id",
        _set(buttons(ANA, ["A", "B"]), "interactive.action.buttons.1.reply.id", "a"),
        400,
        131009,
        "Duplicate button id",
    ),
    ("body 1025", buttons(ANA, ["A"], "b" * 1025), 400, 100, "at most 1024"),
    (
        "header 61",
        _set(buttons(ANA, ["A"]), "interactive.header", {"type": "text", "text": "h" * 61}),
        400,
        100,
        "interactive['header']['text'] must be at most 60",
    ),
    (
        "footer 61",
        _set(buttons(ANA, ["A"]), "interactive.footer", {"text": "f" * 61}),
        400,
        100,
        "interactive['footer']['text'] must be at most 60",
    ),
    (
        "11 rows",
        list_message(ANA, [_section(None, 11, "r")]),
        400,
        131009,
        "max allowed count: 10",
    ),
    (
        "11 rows in 2 sections",
        list_message(ANA, [_section("A", 6, "a"), _section("B", 5, "b")]),
        400,
        131009,
        "Total row count exceed max allowed count: 10",
    ),
    (
        "11 sections",
        list_message(ANA, [_section(f"S{i}", 1, f"s{i}-") for i in range(11)]),
        400,
        131009,
        "Max allowed sections: 10",
    ),
    (
        "label 21",
        list_message(ANA, [_section(None, 2, "r")], "l" * 21),
        400,
        131009,
        "Max length: 20",
    ),
    (
        "row title 25",
        _set(
            list_message(ANA, [_section(None, 1, "r")]),
            "interactive.action.sections.0.rows.0.title",
            "t" * 25,
        ),
        400,
        131009,
        "Row title length invalid. Min length: 1, Max length: 24",
    ),
    (
        "row description 73",
        _set(
            list_message(ANA, [_section(None, 1, "r")]),
            "interactive.action.sections.0.rows.0.description",
            "d" * 73,
        ),
        400,
        131009,
        "Row description length invalid. Min length: 1, Max length: 72",
    ),
    (
        "row id 201",
        _set(
            list_message(ANA, [_section(None, 1, "r")]),
            "interactive.action.sections.0.rows.0.id",
            "i" * 201,
        ),
        400,
        131009,
        "Row id length invalid. Min length: 1, Max length: 200",
    ),
    (
        "section title 25",
        list_message(ANA, [_section("s" * 25, 1, "a"), _section("B", 1, "b")]),
        400,
        131009,
        "Section title length invalid",
    ),
    (
        "untitled sections",
        list_message(ANA, [_section(None, 1, "a"), _section("B", 1, "b")]),
        400,
        131009,
        "Section title is required",
    ),
    (
        "no product",
        {"to": ANA, "type": "text", "text": {"body": "x"}},
        400,
        100,
        "messaging_product is required",
    ),
    (
        "sms",
        {**text(ANA, "x"), "messaging_product": "sms"},
        400,
        100,
        'must be one of {WHATSAPP} - got "sms"',
    ),
    ("no to", {**text(ANA, "x"), "to": ""}, 400, 100, "The parameter to is required"),
    ("bad type", {**text(ANA, "x"), "type": "hologram"}, 400, 100, "Param type must be one of"),
    (
        "image both",
        {
            "messaging_product": "whatsapp",
            "to": ANA,
            "type": "image",
            "image": {"id": "1", "link": "http://x"},
        },
        400,
        100,
        "exactly one of id or link",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "code", "wording"), LIMITS, ids=[c[0] for c in LIMITS]
)
async def test_limits_are_refused_like_meta(
    emulator: CloudApiEmulator,
    ana: Customer,
    http: aiohttp.ClientSession,
    case: str,
    body: dict[str, Any],
    status: int,
    code: int,
    wording: str,
) -> None:
    got_status, answer = await post(http, emulator, body)
    error = _error(answer)
    assert (got_status, error["code"]) == (status, code), error
    shown = error["message"] + " " + error.get("error_data", {}).get("details", "")
    assert wording in shown
    if code == 131009:
        assert error["message"] == "(#131009) Parameter value is not valid"
        assert error["error_data"]["messaging_product"] == "whatsapp"
    else:
        assert error["message"].startswith("(#100) ") and "error_data" not in error
    assert ana.messages == []  # nothing refused reaches the customer


async def test_limits_at_their_edge_pass(
    emulator: CloudApiEmulator, ana: Customer, http: aiohttp.ClientSession
) -> None:
    edge = buttons(ANA, ["a" * 20, "b" * 20, "c" * 20], "x" * 1024)
    _set(edge, "interactive.header", {"type": "text", "text": "h" * 60})
    _set(edge, "interactive.footer", {"text": "f" * 60})
    assert (await post(http, emulator, edge))[0] == 200
    full = list_message(ANA, [_section("s" * 24, 5, "a"), _section("B", 5, "b")], "l" * 20)
    _set(full, "interactive.action.sections.0.rows.0.title", "t" * 24)
    _set(full, "interactive.action.sections.0.rows.0.description", "d" * 72)
    assert (await post(http, emulator, full))[0] == 200
    assert (await post(http, emulator, text(ANA, "x" * 4096)))[0] == 200
    listed = await ana.wait_for_message(lambda m: m.interactive_type == "list")
    assert len(listed.rows) == 10 and listed.rows[0].description == "d" * 72
    assert listed.rows[5].section == "B" and listed.list_button == "l" * 20


async def test_templates(
    emulator: CloudApiEmulator, ana: Customer, http: aiohttp.ClientSession
) -> None:
    emulator.register_template("nps_invite", "ru", "Привет, {{1}}! Оцените {{2}}", ["Да", "Нет"])
    status, answer = await post(http, emulator, template(ANA, "nps_invite", "ru", "Ана", "Acme"))
    assert status == 200 and answer["messages"][0]["message_status"] == "accepted"
    sent = await ana.wait_for_message(lambda m: m.type == "template")
    assert sent.text == "Привет, Ана! Оцените Acme" and [b.title for b in sent.buttons] == [
        "Да",
        "Нет",
    ]

    status, answer = await post(http, emulator, template(ANA, "nps_invite", "en", "A", "B"))
    error = _error(answer)
    assert (status, error["code"]) == (404, 132001)
    assert error["message"] == "(#132001) Template name does not exist in the translation"
    assert error["error_data"]["details"] == "template name (nps_invite) does not exist in en"

    status, answer = await post(http, emulator, template(ANA, "nps_invite", "ru", "only one"))
    error = _error(answer)
    assert (status, error["code"]) == (400, 132000)
    assert (
        "number of localizable_params (1) does not match the expected number of params (2)"
        in (error["error_data"]["details"])
    )
    status, answer = await post(http, emulator, template(ANA, "nps_invite", "ru", "A", " "))
    assert (status, _error(answer)["code"]) == (400, 131008)


async def test_mark_as_read(
    emulator: CloudApiEmulator, ana: Customer, http: aiohttp.ClientSession
) -> None:
    incoming = ana.sent[-1].id
    body = {"messaging_product": "whatsapp", "status": "read", "message_id": incoming}
    assert await post(http, emulator, body) == (200, {"success": True})
    assert emulator.read_by_business == [incoming]
    status, answer = await post(http, emulator, {**body, "message_id": "wamid.nope"})
    assert (status, _error(answer)["code"]) == (400, 100)


async def test_token_and_phone_number_id(
    emulator: CloudApiEmulator, ana: Customer, http: aiohttp.ClientSession
) -> None:
    status, answer = await post(http, emulator, text(ANA, "x"), token="EAAwrong")
    error = _error(answer)
    assert (status, error["code"], error["type"]) == (401, 190, "OAuthException")
    assert error["message"] == "Invalid OAuth access token - Cannot parse access token"
    status, answer = await post(http, emulator, text(ANA, "x"), token=None)
    assert (status, _error(answer)["code"]) == (401, 104)
    status, answer = await post(http, emulator, text(ANA, "x"), path="999/messages")
    error = _error(answer)
    assert (status, error["code"], error["error_subcode"]) == (400, 100, 33)
    assert "Object with ID '999' does not exist" in error["message"]
    async with http.post(
        f"{emulator.base_url}/{PHONE_ID}/messages",
        data=b"{not json",
        headers={"Authorization": "Bearer EAAtest-token", "Content-Type": "application/json"},
    ) as response:
        assert response.status == 400 and (await response.json())["error"]["code"] == 100
    assert ana.messages == []


async def test_rate_limits_answer_meta_errors(
    emulator: CloudApiEmulator, ana: Customer, http: aiohttp.ClientSession
) -> None:
    bob = emulator.customer("37360000002", "Bob")
    bob.send_text("hi")
    emulator.set_rate_limits(per_second=None, pair_limit=1, pair_window=60)
    assert (await post(http, emulator, text(ANA, "one")))[0] == 200
    status, answer = await post(http, emulator, text(ANA, "two"))
    error = _error(answer)
    assert (status, error["code"]) == (400, 131056)
    assert error["message"] == "(#131056) (Business Account, Consumer Account) pair rate limit hit"
    assert "same phone number" in error["error_data"]["details"]
    assert (await post(http, emulator, text("37360000002", "other pair")))[0] == 200

    emulator.set_rate_limits(per_second=1)
    status, answer = await post(http, emulator, text("37360000002", "again"))
    error = _error(answer)
    assert (status, error["code"], error["message"]) == (400, 130429, "(#130429) Rate limit hit")
    assert emulator.rate_limited == 2
    assert [m.text for m in ana.messages] == ["one"]


async def test_injected_faults(
    emulator: CloudApiEmulator, ana: Customer, http: aiohttp.ClientSession
) -> None:
    emulator.inject_fault()
    status, answer = await post(http, emulator, text(ANA, "x"))
    assert (status, _error(answer)["code"]) == (500, 131000)
    emulator.inject_fault(80007)
    status, answer = await post(http, emulator, text(ANA, "x"))
    assert (status, _error(answer)["code"]) == (400, 80007)
    emulator.inject_fault(body="html", status=502)
    status, page = await post(http, emulator, text(ANA, "x"))
    assert status == 502 and "<h1>502 Bad Gateway</h1>" in page
    emulator.inject_fault(body="text")
    status, page = await post(http, emulator, text(ANA, "x"))
    assert status == 500 and page == "upstream connect error"
    assert ana.messages == []
    emulator.inject_delay(0.2)
    started = time.monotonic()
    assert (await post(http, emulator, text(ANA, "late")))[0] == 200
    assert time.monotonic() - started >= 0.2
    assert [m.text for m in ana.messages] == ["late"]
