"""The handler tier's own harness: what it records is what the pipeline queued, and it
cannot hide a failure."""

from __future__ import annotations

import pytest

from bot.emulator import BotApiEmulator
from bot.pipeline import Pipeline
from handlers.port import EditText, SendText
from tests.handlers.conftest import make_settings
from tests.handlers.harness import HandlerBot, event_of
from tests.scenario import QUESTION, start_survey


async def test_the_port_records_each_action_and_the_chat_shows_it(
    api: BotApiEmulator, bot: HandlerBot
) -> None:
    ann = api.user(9101, first_name="Ann")
    question = await start_survey(ann)
    ann.press(question, "9")
    await ann.wait_for_message(lambda m: "like most" in m.text)
    await bot.idle()
    sent = [a for a in bot.port.actions if isinstance(a, SendText) and a.chat_id == ann.id]
    assert [QUESTION in a.html for a in sent] == [False, True, False]  # greeting, question, why
    [edit] = [a for a in bot.port.actions if isinstance(a, EditText)]
    assert edit.message_id == question.message_id and "your answer: 9" in edit.html
    assert ann.message(question.message_id).text.endswith("your answer: 9")  # type: ignore[union-attr]


async def test_an_update_the_pipeline_cannot_handle_fails_the_test(
    api: BotApiEmulator, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object, **__: object) -> bool:
        raise RuntimeError("boom")

    running = HandlerBot(make_settings(api, db_url), api)
    await running.start()
    monkeypatch.setattr(Pipeline, "handle", broken)
    api.user(9102, first_name="Bo").send("/start")
    await running.idle()
    with pytest.raises(AssertionError, match="boom"):
        await running.stop()


def test_updates_become_the_events_the_runtimes_make(api: BotApiEmulator) -> None:
    user = api.user(9103, first_name="Cy", username="cy", language_code="ro")
    user.send("/start x")
    user.send_sticker()
    user.block_bot()
    text, sticker, block = (event_of(u) for u in api.pending_updates)
    assert text is not None and text.text == "/start x" and text.sender.language_code == "ro"  # type: ignore[union-attr]
    assert sticker is not None and (sticker.kind, sticker.text) == ("sticker", None)  # type: ignore[union-attr]
    assert block is not None and block.blocked  # type: ignore[union-attr]
