"""WhatsApp's side of the chat port: the handlers' actions for WhatsApp chats as Cloud API
messages, so no conversation is written twice.

What WhatsApp cannot do is decided here: it cannot edit or delete a sent message, nor take
buttons off one, so EditText, DropKeyboard and DeleteMessage do nothing (the survey's edits
only restate what the person just tapped or typed; a handler that answers a press by
editing the pressed message gets a press without a message id and sends its answer anew,
events.py). A button press has no spinner to stop: an AnswerButton with a text (an alert
or a toast such as "you already answered 9") is sent as a message. There is no command
menu (SetCommands). Files (a /mydata export) are uploaded and sent as documents.
"""

from __future__ import annotations

import logging
import mimetypes
from collections import OrderedDict
from pathlib import Path

from bot.whatsapp.client import CloudApi
from bot.whatsapp.events import MEDIA_PREFIX, chat_of_callback
from bot.whatsapp.questions import Questions, quick_reply_question
from bot.whatsapp.render import Renderer, score_keyboard_of, text_message, whatsapp_text
from handlers.port import (
    Action,
    AnswerButton,
    Keyboard,
    Rejected,
    SendDocument,
    SendPhoto,
    SendText,
    Unreachable,
)
from handlers.texts import CatalogsLike
from storage.db import Database
from storage.repos.whatsapp import wamid_message_id

log = logging.getLogger(__name__)
RECENT_RECIPIENTS = 10_000


class WhatsAppPort:
    """Performs actions for WhatsApp chats (synthetic chat ids, storage/repos/whatsapp.py)."""

    def __init__(
        self,
        api: CloudApi,
        db: Database,
        catalogs: CatalogsLike,
        *,
        template: str = "nps_invitation",
        brand: str = "npsbot",
    ) -> None:
        self.api = api
        self.db = db
        self.catalogs = catalogs
        self.renderer = Renderer(catalogs)
        # The chats written to lately (bounded): recipient() after an erasure.
        self._recent: OrderedDict[int, tuple[str, str]] = OrderedDict()
        # Score questions: free-form inside the 24-hour window, else the template.
        self.questions = Questions(api, db, self.renderer, template=template, brand=brand)

    async def recipient(self, chat_id: int) -> tuple[str, str]:
        """The wa_id and the language of a WhatsApp chat; Unreachable when unknown."""
        async with self.db.snapshot() as store:
            target = await store.whatsapp_outbound.target(chat_id, None)
        if target is None:
            # Erased a moment ago: /forgetme's "done" goes after the address is deleted,
            # so the last lookup (the confirmation's) names the number, once.
            known = self._recent.pop(chat_id, None)
            if known is None:
                raise Unreachable(f"no WhatsApp address has the chat {chat_id}")
            return known
        found = (
            target.wa_id,
            self.catalogs.resolve(target.language_override, target.guessed_language),
        )
        self._recent[chat_id] = found
        self._recent.move_to_end(chat_id)
        if len(self._recent) > RECENT_RECIPIENTS:
            self._recent.popitem(last=False)
        return found

    async def perform(self, action: Action) -> int | None:
        """Sends what WhatsApp can show; the sent message's id as an int (its wamid's)."""
        if isinstance(action, SendText):
            score = (
                score_keyboard_of(action.keyboard)
                if isinstance(action.keyboard, Keyboard)
                else None
            )
            if score is not None and isinstance(action.keyboard, Keyboard):
                return await self.questions.send(
                    action.chat_id, action.html, action.keyboard, score
                )
            wa_id, language = await self.recipient(action.chat_id)
            body = self.renderer.message(action.html, action.keyboard, language)
            return await self._send(wa_id, body)
        if isinstance(action, AnswerButton):
            chat_id = chat_of_callback(action.callback_id)
            if chat_id is None or not action.text:
                return None
            wa_id, _ = await self.recipient(chat_id)
            await self._send(wa_id, text_message(action.text))
            return None
        if isinstance(action, SendDocument):
            wa_id, _ = await self.recipient(action.chat_id)
            data = action.data.read_bytes() if isinstance(action.data, Path) else action.data
            mime = mimetypes.guess_type(action.filename)[0] or "application/octet-stream"
            media = await self.api.upload(data, action.filename, mime)
            document: dict[str, str] = {"id": media, "filename": action.filename}
            if action.caption_html:
                document["caption"] = whatsapp_text(action.caption_html)
            return await self._send(wa_id, {"type": "document", "document": document})
        if isinstance(action, SendPhoto):
            wa_id, _ = await self.recipient(action.chat_id)
            media = await self.api.upload(action.data, "picture.png", "image/png")
            image: dict[str, str] = {"id": media}
            if action.caption_html:
                image["caption"] = whatsapp_text(action.caption_html)
            return await self._send(wa_id, {"type": "image", "image": image})
        return None  # EditText, DropKeyboard, DeleteMessage, SetCommands: see the docstring

    async def send_range(self, chat_id: int, data: str) -> None:
        """A tap the channel answers itself: a template's quick reply brings the score
        question (the 0–10 one's two lists, questions.py); an old range button (a question
        sent before the two lists, render.py) brings the list of its scores. A failure of
        the first message is raised (the channel retries it); a later one's is logged."""
        old = self.renderer.range_list(data)
        bodies = [old] if old is not None else quick_reply_question(self.renderer, data)
        if not bodies:
            log.info("ignored a malformed range button %r", data)
            return
        wa_id, _ = await self.recipient(chat_id)
        await self.questions.send_in_turn(chat_id, wa_id, bodies)

    async def _send(self, wa_id: str, body: dict[str, object]) -> int:
        wamid = await self.api.send({"to": wa_id, **body})
        return wamid_message_id(wamid)

    async def download(self, file_id: str, max_bytes: int) -> bytes:
        """A customer's file: the media's URL from Graph, then its bytes."""
        if not file_id.startswith(MEDIA_PREFIX):
            raise Rejected("not a WhatsApp media id")
        return await self.api.download(file_id[len(MEDIA_PREFIX) :], max_bytes)
