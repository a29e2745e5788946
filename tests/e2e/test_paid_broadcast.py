"""Paid broadcasts (BROADCAST_PAID): the broadcast's messages carry allow_paid_broadcast on
both runtimes — and nothing else does — so they count against Telegram's 1000/s, not 30/s."""

from __future__ import annotations

import pytest

from bot.emulator import BotApiEmulator
from storage.db import Database
from tests.broadcast_helpers import admin, preview_of, seed_audience
from tests.e2e.conftest import RUNTIMES, broadcast_bot

PEOPLE = list(range(710_000, 710_040))


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("paid", [True, False], ids=["paid", "free"])
async def test_broadcast_messages_are_paid_only_with_broadcast_paid(
    api: BotApiEmulator, db_url: str, check_db: Database, runtime: str, paid: bool
) -> None:
    await seed_audience(check_db, api, PEOPLE)
    # A free limit the broadcast's 200/s would exceed at once: a paid broadcast goes through
    # without a 429, a free one is throttled. (No per-chat limit: the owner's summary of
    # this 0.2 s broadcast comes within a second of the preview.)
    api.set_rate_limits(global_per_second=10, per_chat_per_second=None, paid_per_second=1000)
    bot = broadcast_bot(api, db_url, bot_framework=runtime, broadcast_paid=paid)
    await bot.start()
    try:
        owner = admin(api)
        preview = await preview_of(owner, "/broadcast nps")
        owner.press(preview, f"✅ Send to {len(PEOPLE)}")
        await owner.wait_for_message(lambda m: "finished:" in m.text, timeout=30)
    finally:
        await bot.stop()
    wanted = set(PEOPLE)
    questions = [
        c
        for c in api.calls_for("sendMessage")
        if c.status == 200 and c.params["chat_id"] in wanted
    ]
    assert sorted(c.params["chat_id"] for c in questions) == PEOPLE  # each exactly once
    flags = {c.params.get("allow_paid_broadcast") for c in questions}
    assert flags == ({True} if paid else {None})
    # The owner's preview and summary are conversation messages: never paid.
    to_owner = [c for c in api.calls_for("sendMessage") if c.params["chat_id"] == owner.id]
    assert to_owner and all("allow_paid_broadcast" not in c.params for c in to_owner)
    if paid:
        assert api.too_many_requests_sent == 0
    else:  # 200/s against a free limit of 10/s: the emulator refused some (and they waited)
        assert api.too_many_requests_sent > 0
