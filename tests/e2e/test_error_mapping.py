"""Both ports turn every Telegram error answer into the same ChatError, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.emulator import BotApiEmulator
from bot.runtime.aiogram_port import AiogramPort
from bot.runtime.aiogram_runtime import create_bot
from bot.runtime.ptb_port import PtbPort
from bot.runtime.ptb_runtime import create_application
from handlers.port import (
    AnswerButton,
    ChatError,
    ChatPort,
    EditText,
    Rejected,
    RetryLater,
    SendText,
    Transient,
    Unreachable,
)
from tests.e2e.conftest import make_settings

# status → the ChatError both ports must raise for it
CASES = {
    429: RetryLater,
    403: Unreachable,
    400: Rejected,
    404: Rejected,
    409: Rejected,
    413: Rejected,  # a client error aiogram knows and PTB does not: still not retried
    500: Transient,
    502: Transient,
}


@pytest.fixture
async def ports(api: BotApiEmulator) -> AsyncIterator[dict[str, ChatPort]]:
    """An AiogramPort and a PtbPort talking to the same emulator."""
    settings = make_settings(api, "sqlite+aiosqlite://")
    bot = create_bot(settings)  # each runtime's own client, configured as when it runs
    application = create_application(settings)
    try:
        yield {
            "aiogram": AiogramPort(bot),
            "ptb": PtbPort(application.bot),
        }
    finally:
        await bot.session.close()
        await application.bot.request.shutdown()


async def _raised(port: ChatPort, action: SendText) -> ChatError:
    with pytest.raises(ChatError) as caught:
        await port.perform(action)
    return caught.value


@pytest.mark.parametrize("status", list(CASES))
async def test_each_status_maps_to_the_same_error(
    api: BotApiEmulator, ports: dict[str, ChatPort], status: int
) -> None:
    user = api.user(401, first_name="Ann")
    user.send("/start")
    errors = {}
    for name, port in ports.items():
        api.inject_fault(method="sendMessage", status=status, retry_after=3, times=1)
        errors[name] = await _raised(port, SendText(user.id, "<b>hi</b>"))
    assert {type(e) for e in errors.values()} == {CASES[status]}, errors
    if status == 429:
        assert [e.seconds for e in errors.values()] == [3.0, 3.0]  # type: ignore[attr-defined]
    if status == 400:
        # PTB drops "Bad Request: " and capitalises; the pipeline matches case-insensitively.
        for error in errors.values():
            assert "injected error" in error.description.lower()  # type: ignore[attr-defined]


async def test_harmless_400s_and_successes_alike(
    api: BotApiEmulator, ports: dict[str, ChatPort]
) -> None:
    user = api.user(402, first_name="Bo")
    user.send("/start")
    for name, port in ports.items():
        message_id = await port.perform(SendText(user.id, f"<i>{name}</i>"))
        assert message_id is not None
        sent = user.message(message_id)
        assert sent is not None and sent.text == name and sent.entities[0]["type"] == "italic"
        await port.perform(EditText(user.id, message_id, "same"))
        with pytest.raises(Rejected) as caught:
            await port.perform(EditText(user.id, message_id, "same"))
        assert "message is not modified" in caught.value.description.lower()
        with pytest.raises(Rejected) as caught:
            await port.perform(AnswerButton("12345", "late"))
        assert "query is too old" in caught.value.description.lower()
