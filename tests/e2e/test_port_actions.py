"""Every action a handler can queue, performed by each runtime's port over real HTTP: what
the user sees must be the same. The conversations that queue them are tested at the handler
tier (tests/handlers), which records actions without a framework; this is where each
framework's rendering of them (HTML, keyboards, files, command scopes, downloads) is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.emulator import BotApiEmulator
from bot.runtime.aiogram_port import AiogramPort
from bot.runtime.aiogram_runtime import create_bot
from bot.runtime.ptb_port import PtbPort
from bot.runtime.ptb_runtime import create_application
from handlers.port import (
    AnswerButton,
    Button,
    ChatPort,
    DeleteMessage,
    DropKeyboard,
    EditText,
    Keyboard,
    Rejected,
    SendDocument,
    SendPhoto,
    SendText,
    SetCommands,
)
from tests.e2e.conftest import make_settings

# A 1×1 PNG: what a chart upload looks like to the port.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture(params=["aiogram", "ptb"])
async def port(api: BotApiEmulator, request: pytest.FixtureRequest) -> AsyncIterator[ChatPort]:
    """One runtime's port, with its own client configured as when the bot runs."""
    settings = make_settings(api, "sqlite+aiosqlite://")
    if request.param == "aiogram":
        bot = create_bot(settings)
        try:
            yield AiogramPort(bot)
        finally:
            await bot.session.close()
    else:
        application = create_application(settings)
        try:
            yield PtbPort(application.bot)
        finally:
            await application.bot.request.shutdown()


async def test_texts_keyboards_edits_and_deletes_look_as_queued(
    api: BotApiEmulator, port: ChatPort
) -> None:
    user = api.user(601, first_name="Ann")
    user.send("/start")
    keyboard = Keyboard.of(
        [Button("0", data="nps:s:1:0"), Button("10", data="nps:s:1:10")],
        [Button("Leave a review ↗", url="https://example.com/review")],
    )
    message_id = await port.perform(SendText(user.id, "<b>Rate</b> us &amp; win", keyboard))
    assert message_id is not None
    sent = user.message(message_id)
    assert sent is not None and sent.text == "Rate us & win"
    assert sent.entities[0]["type"] == "bold"
    rows = [[(b.text, b.callback_data, b.url) for b in row] for row in sent.keyboard]
    assert rows == [
        [("0", "nps:s:1:0", None), ("10", "nps:s:1:10", None)],
        [("Leave a review ↗", None, "https://example.com/review")],
    ]
    # Link previews are off: a review link must not unfold into a card under the thanks.
    [call] = [c for c in api.calls_for("sendMessage") if c.status == 200]
    assert call.params["link_preview_options"]["is_disabled"] is True

    edited_keyboard = Keyboard.of([Button("Skip", data="nps:k:1")])
    await port.perform(EditText(user.id, message_id, "— your answer: 6", edited_keyboard))
    edited = user.message(message_id)
    assert edited is not None and edited.edited and edited.text == "— your answer: 6"
    assert edited.button_texts == ["Skip"]
    await port.perform(DropKeyboard(user.id, message_id))
    dropped = user.message(message_id)
    assert dropped is not None and dropped.keyboard == [] and dropped.text == "— your answer: 6"
    await port.perform(DeleteMessage(user.id, message_id))
    gone = user.message(message_id)
    assert gone is not None and gone.deleted


async def test_a_button_answer_is_a_toast_or_an_alert(api: BotApiEmulator, port: ChatPort) -> None:
    user = api.user(602, first_name="Bo")
    user.send("/start")
    message_id = await port.perform(
        SendText(user.id, "Pick", Keyboard.of([Button("A", data="x:a"), Button("B", data="x:b")]))
    )
    message = user.message(message_id)  # type: ignore[arg-type]
    assert message is not None
    toast, alert = user.press(message, "A"), user.press(message, "B")
    await port.perform(AnswerButton(toast, "Saved"))
    await port.perform(AnswerButton(alert, "This button is not valid.", alert=True))
    answered = (await user.wait_callback_answer(toast), await user.wait_callback_answer(alert))
    assert [(a.text, a.show_alert) for a in answered] == [
        ("Saved", False),
        ("This button is not valid.", True),
    ]


async def test_documents_from_bytes_or_disk_and_photos_arrive_whole(
    api: BotApiEmulator, port: ChatPort, tmp_path: Path
) -> None:
    user = api.user(603, first_name="Cy")
    user.send("/start")
    csv = "id;name\n1;Анна\n".encode("utf-8-sig")
    on_disk = tmp_path / "nps-2026-10.xlsx"
    on_disk.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 40)
    first = await port.perform(SendDocument(user.id, "nps.csv", csv, "<b>30</b> answers"))
    second = await port.perform(SendDocument(user.id, on_disk.name, on_disk))
    chart = await port.perform(SendPhoto(user.id, PNG, "NPS <i>+12</i>"))
    files = [user.message(i) for i in (first, second, chart)]  # type: ignore[arg-type]
    assert all(m is not None for m in files)
    doc, big, photo = files
    assert doc.document.name == "nps.csv" and doc.document.data == csv  # type: ignore[union-attr]
    assert doc.text == "30 answers" and doc.entities[0]["type"] == "bold"  # type: ignore[union-attr]
    assert big.document.name == on_disk.name  # type: ignore[union-attr]
    assert big.document.data == on_disk.read_bytes()  # type: ignore[union-attr]
    assert photo.photo is not None and photo.text == "NPS +12"  # type: ignore[union-attr]


async def test_a_chat_menu_is_set_and_cleared_for_that_chat_only(
    api: BotApiEmulator, port: ChatPort
) -> None:
    user = api.user(604, first_name="Di")
    user.send("/start")
    menu = (("nps", "NPS and answers"), ("export", "Download the answers"))
    await port.perform(SetCommands(user.id, menu))
    assert api.menu(user.id) == ["nps", "export"]
    assert api.menu() == []  # the default menu is untouched
    await port.perform(SetCommands(user.id, ()))
    assert api.menu(user.id) == []


async def test_a_users_file_is_downloaded_and_a_big_one_refused(
    api: BotApiEmulator, port: ChatPort
) -> None:
    user = api.user(605, first_name="Ed")
    contacts = b"id;language\n41;ru\n"
    user.send_document(contacts, file_name="contacts.csv", mime_type="text/csv")
    [sent] = [m for m in user.messages if m.document is not None]
    file_id = sent.document.file_id  # type: ignore[union-attr]
    assert await port.download(file_id, max_bytes=1024) == contacts
    with pytest.raises(Rejected, match="too big"):
        await port.download(file_id, max_bytes=len(contacts) - 1)
