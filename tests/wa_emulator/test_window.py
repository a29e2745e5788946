"""The 24-hour customer-service window and numbers that are not on WhatsApp, both ways
Meta reports them: a ``failed`` status webhook (default) or an immediate HTTP 400."""

from __future__ import annotations

import aiohttp

from bot.wa_emulator import CloudApiEmulator, Customer
from tests.wa_emulator.conftest import ANA, BotEndpoint, post, template, text

DAY = 24 * 3600


async def _failed_code(bot: BotEndpoint, emulator: CloudApiEmulator, wamid: str) -> int:
    await emulator.wait_until(lambda: any(s["status"] == "failed" for s in bot.statuses(wamid)))
    (failed,) = bot.statuses(wamid)  # no "sent" before a failure
    (error,) = failed["errors"]
    assert set(error) == {"code", "title", "message", "error_data", "href"}
    return int(error["code"])


async def test_window_rule(
    hooked: CloudApiEmulator, bot: BotEndpoint, ana: Customer, http: aiohttp.ClientSession
) -> None:
    emulator = hooked
    assert ana.window_open
    emulator.advance_clock(DAY - 60)
    status, answer = await post(http, emulator, text(ANA, "still inside"))
    assert status == 200

    emulator.advance_clock(120)  # 24 h and a minute after Ana wrote
    assert not ana.window_open
    status, answer = await post(http, emulator, text(ANA, "too late"))
    assert status == 200  # Meta accepts it, then fails it by webhook
    late = answer["messages"][0]["id"]
    assert await _failed_code(bot, emulator, late) == 131047
    assert emulator.message(late).status == "failed"  # type: ignore[union-attr]
    assert [m.text for m in ana.messages] == ["still inside"]

    emulator.register_template("nps_invite", "en", "How likely are you to recommend {{1}}?")
    status, answer = await post(http, emulator, template(ANA, "nps_invite", "en", "Acme"))
    assert status == 200
    invite = answer["messages"][0]["id"]
    await emulator.wait_until(
        lambda: [s["status"] for s in bot.statuses(invite)] == ["sent", "delivered"]
    )
    assert not ana.window_open  # the business's messages do not open it

    ana.send_text("9")  # the customer's answer opens it again
    assert ana.window_open
    assert (await post(http, emulator, text(ANA, "Thanks!")))[0] == 200
    assert [m.text for m in ana.messages][-1] == "Thanks!"


async def test_window_error_in_the_answer(
    emulator: CloudApiEmulator, ana: Customer, http: aiohttp.ClientSession
) -> None:
    emulator.failures = "response"
    emulator.advance_clock(DAY + 1)
    status, answer = await post(http, emulator, text(ANA, "too late"))
    error = answer["error"]
    assert (status, error["code"]) == (400, 131047)
    assert error["message"] == "(#131047) Re-engagement message"
    assert "more than 24 hours have passed" in error["error_data"]["details"]
    assert emulator.messages == []


async def test_not_on_whatsapp(
    hooked: CloudApiEmulator, bot: BotEndpoint, http: aiohttp.ClientSession
) -> None:
    emulator = hooked
    emulator.register_template("hello", "en", "Hello")
    ghost = emulator.customer("37369999999", "Ghost", on_whatsapp=False)
    for to in (ghost.wa_id, "37361111111"):  # marked, and never heard of
        status, answer = await post(http, emulator, template(to, "hello", "en"))
        assert status == 200 and answer["contacts"][0]["wa_id"] == to
        assert await _failed_code(bot, emulator, answer["messages"][0]["id"]) == 131026
    failed = bot.values()[-1]
    assert "contacts" not in failed  # WhatsApp knows no user behind the number
    assert ghost.messages == []

    emulator.failures = "response"
    status, answer = await post(http, emulator, template("37361111111", "hello", "en"))
    assert (status, answer["error"]["code"]) == (400, 131026)
