"""What customers send arrives in Meta's shapes: button and list replies with their
context, template quick replies, media with a two-step download, stickers, reactions,
unsupported messages."""

from __future__ import annotations

import hashlib

import aiohttp
import pytest

from bot.wa_emulator import CloudApiEmulator, Customer
from tests.wa_emulator.conftest import (
    ANA,
    PHONE_ID,
    TOKEN,
    BotEndpoint,
    buttons,
    list_message,
    post,
    rows,
    template,
)


async def test_replies_carry_their_context(
    hooked: CloudApiEmulator, bot: BotEndpoint, ana: Customer, http: aiohttp.ClientSession
) -> None:
    emulator = hooked
    await post(http, emulator, buttons(ANA, ["Yes", "No"]))
    question = await ana.wait_for_message(lambda m: m.interactive_type == "button")
    ana.press_button(question, "No")
    section = {
        "title": "Score",
        "rows": [*rows(2), {"id": "r9", "title": "9", "description": "Likely"}],
    }
    await post(http, emulator, list_message(ANA, [section]))
    scale = await ana.wait_for_message(lambda m: m.interactive_type == "list")
    ana.choose_row(scale, "9")
    emulator.register_template("invite", "en", "Rate {{1}}", ["Start", "Stop"])
    body = template(ANA, "invite", "en", "Acme")
    body["template"]["components"].append(
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "1",
            "parameters": [{"type": "payload", "payload": "STOP-42"}],
        }
    )
    await post(http, emulator, body)
    invite = await ana.wait_for_message(lambda m: m.type == "template")
    ana.tap_quick_reply(invite, "Stop")
    await emulator.wait_until(lambda: len(bot.messages()) == 4)
    _, pressed, chosen, tapped = bot.messages()
    context = {"from": emulator.display_phone_number}
    assert pressed["type"] == "interactive" and pressed["context"] == {
        **context,
        "id": question.id,
    }
    assert pressed["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "no", "title": "No"},
    }
    assert chosen["context"]["id"] == scale.id
    assert chosen["interactive"] == {
        "type": "list_reply",
        "list_reply": {"id": "r9", "title": "9", "description": "Likely"},
    }
    assert tapped["type"] == "button" and tapped["context"]["id"] == invite.id
    assert tapped["button"] == {"payload": "STOP-42", "text": "Stop"}
    with pytest.raises(AssertionError, match="no button 'Maybe'"):
        ana.press_button(question, "Maybe")
    with pytest.raises(AssertionError, match="not a list"):
        ana.choose_row(question, "9")
    assert "Ana: [No]" in ana.transcript() and "bot: Pick one [Yes] [No]" in ana.transcript()


async def test_media_two_step_download(
    hooked: CloudApiEmulator, bot: BotEndpoint, http: aiohttp.ClientSession
) -> None:
    ana = hooked.customer(ANA, "Ana")
    picture = b"\x89PNG fake picture bytes"
    ana.send_image(picture, mime_type="image/png", caption="my receipt")
    ana.send_sticker()
    await hooked.wait_until(lambda: len(bot.messages()) == 2)
    image, sticker = bot.messages()
    assert image["type"] == "image" and image["image"]["caption"] == "my receipt"
    assert set(image["image"]) == {"mime_type", "sha256", "id", "caption"}
    assert (
        sticker["sticker"]["mime_type"] == "image/webp" and sticker["sticker"]["animated"] is False
    )
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with http.get(f"{hooked.base_url}/{image['image']['id']}", headers=auth) as response:
        info = await response.json()
    assert info["id"] == image["image"]["id"] and info["mime_type"] == "image/png"
    assert info["sha256"] == hashlib.sha256(picture).hexdigest()
    assert info["file_size"] == len(picture) and info["messaging_product"] == "whatsapp"
    async with http.get(info["url"]) as response:
        assert response.status == 401  # the download needs the token too
    async with http.get(info["url"], headers=auth) as response:
        assert await response.read() == picture
    async with http.get(f"{hooked.base_url}/123456", headers=auth) as response:
        assert response.status == 400 and (await response.json())["error"]["code"] == 100


async def test_upload_then_send_by_id(
    emulator: CloudApiEmulator, ana: Customer, http: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData()
    form.add_field("messaging_product", "whatsapp")
    form.add_field("type", "application/pdf")
    form.add_field("file", b"%PDF-1.4", filename="report.pdf", content_type="application/pdf")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with http.post(f"{emulator.base_url}/{PHONE_ID}/media", data=form, headers=headers) as r:
        media_id = (await r.json())["id"]
    body = {
        "messaging_product": "whatsapp",
        "to": ANA,
        "type": "document",
        "document": {"id": media_id, "caption": "NPS report", "filename": "report.pdf"},
    }
    assert (await post(http, emulator, body))[0] == 200
    sent = await ana.wait_for_message(lambda m: m.type == "document")
    assert sent.media["id"] == media_id and sent.text == "NPS report"


async def test_reaction_and_unsupported(
    hooked: CloudApiEmulator, bot: BotEndpoint, ana: Customer, http: aiohttp.ClientSession
) -> None:
    await post(http, hooked, buttons(ANA, ["OK"]))
    message = await ana.wait_for_message()
    ana.react(message, "👍")
    ana.send_unsupported()
    await hooked.wait_until(lambda: len(bot.messages()) == 3)
    _, reaction, unsupported = bot.messages()
    assert reaction["reaction"] == {"message_id": message.id, "emoji": "👍"}
    assert unsupported["type"] == "unsupported" and unsupported["errors"][0]["code"] == 131051
