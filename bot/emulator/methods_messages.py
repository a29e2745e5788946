"""Bot API methods on chats and their messages: getChat, sendChatAction, sendMessage,
sendDocument, sendPhoto, editMessageText/Caption/ReplyMarkup, deleteMessage and
answerCallbackQuery — each with Telegram's checks and error wording."""

from __future__ import annotations

from typing import Any

from bot.emulator.actors import ChatView, EmulatedUser
from bot.emulator.chats import CallbackQueries, Chats, now, payload_of
from bot.emulator.files import FileStore, document_payload, photo_size
from bot.emulator.markup import formatted, parse_markup, removes_keyboard, set_or_pop
from bot.emulator.models import CallbackAnswer, ChatMessage, Handler, bad_request

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_ANSWER_LIMIT = 200
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


class MessageMethods:
    """The handlers, bound to the chats, files and callback queries they act on."""

    def __init__(self, chats: Chats, files: FileStore, queries: CallbackQueries) -> None:
        self._chats = chats
        self._files = files
        self._queries = queries

    def handlers(self) -> dict[str, Handler]:
        """Bot API method name → handler."""
        return {
            "getChat": self.get_chat,
            "sendChatAction": self.send_chat_action,
            "sendMessage": self.send_message,
            "sendDocument": self.send_document,
            "sendPhoto": self.send_photo,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
        }

    async def get_chat(self, params: dict[str, Any]) -> Any:
        """getChat: the ``ChatFullInfo`` of a chat the bot can see."""
        chat = self._chats.find(params["chat_id"])
        if chat is None or (isinstance(chat, EmulatedUser) and not chat.started):
            raise bad_request("chat not found")
        return {
            **chat.chat_payload(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    async def send_chat_action(self, params: dict[str, Any]) -> Any:
        """sendChatAction: accepted where the bot may write."""
        self._chats.target(params["chat_id"])
        return True

    async def send_message(self, params: dict[str, Any]) -> Any:
        """sendMessage."""
        chat = self._chats.target(params["chat_id"])
        text, entities = formatted(params, "text", "entities", TEXT_LIMIT)
        markup, keyboard, reply_keyboard = parse_markup(params.get("reply_markup"))
        reply = _reply_payload(chat, params)
        msg = self._chats.new_message(chat, from_bot=True, kind="text")
        msg.text, msg.entities, msg.html = text, entities, params["text"]
        msg.parse_mode = params.get("parse_mode")
        msg.keyboard, msg.reply_keyboard = keyboard, reply_keyboard
        _show_reply_keyboard(chat, msg, params.get("reply_markup"))
        msg.payload["text"] = text
        if entities:
            msg.payload["entities"] = entities
        if "link_preview_options" in params:
            msg.payload["link_preview_options"] = params["link_preview_options"]
        if reply:
            msg.payload["reply_to_message"] = reply
        if markup:
            msg.payload["reply_markup"] = markup
        return payload_of(msg)

    async def send_document(self, params: dict[str, Any]) -> Any:
        """sendDocument."""
        return self._send_media(params, "document")

    async def send_photo(self, params: dict[str, Any]) -> Any:
        """sendPhoto."""
        return self._send_media(params, "photo")

    def _send_media(self, params: dict[str, Any], kind: str) -> Any:
        chat = self._chats.target(params["chat_id"])
        info = self._files.resolve(params[kind], kind)
        caption, entities = "", list[dict[str, Any]]()
        if params.get("caption"):
            caption, entities = formatted(params, "caption", "caption_entities", CAPTION_LIMIT)
        markup, keyboard, reply_keyboard = parse_markup(params.get("reply_markup"))
        reply = _reply_payload(chat, params)
        msg = self._chats.new_message(chat, from_bot=True, kind=kind)
        msg.text, msg.entities, msg.html = caption, entities, params.get("caption")
        msg.parse_mode = params.get("parse_mode")
        msg.keyboard, msg.reply_keyboard = keyboard, reply_keyboard
        _show_reply_keyboard(chat, msg, params.get("reply_markup"))
        if kind == "document":
            msg.document = info
            msg.payload["document"] = document_payload(info)
        else:
            msg.photo = info
            msg.payload["photo"] = [photo_size(info)]
        if caption:
            msg.payload["caption"] = caption
        if entities:
            msg.payload["caption_entities"] = entities
        if reply:
            msg.payload["reply_to_message"] = reply
        if markup:
            msg.payload["reply_markup"] = markup
        return payload_of(msg)

    async def edit_message_text(self, params: dict[str, Any]) -> Any:
        """editMessageText."""
        msg = self._editable(params)
        if msg.kind != "text":
            raise bad_request("there is no text in the message to edit")
        text, entities = formatted(params, "text", "entities", TEXT_LIMIT)
        markup, keyboard, _ = parse_markup(params.get("reply_markup"), inline_only=True)
        if (
            text == msg.text
            and entities == msg.entities
            and markup == msg.payload.get("reply_markup")
        ):
            raise bad_request(NOT_MODIFIED)
        msg.history.append(msg.text)
        msg.text, msg.entities, msg.html = text, entities, params["text"]
        msg.parse_mode = params.get("parse_mode")
        msg.keyboard = keyboard
        msg.payload["text"] = text
        set_or_pop(msg.payload, "entities", entities)
        set_or_pop(msg.payload, "reply_markup", markup)
        return _mark_edited(msg)

    async def edit_message_caption(self, params: dict[str, Any]) -> Any:
        """editMessageCaption."""
        msg = self._editable(params)
        if msg.kind not in ("document", "photo"):
            raise bad_request("there is no caption in the message to edit")
        caption, entities = "", list[dict[str, Any]]()
        if params.get("caption"):
            caption, entities = formatted(params, "caption", "caption_entities", CAPTION_LIMIT)
        markup, keyboard, _ = parse_markup(params.get("reply_markup"), inline_only=True)
        if (
            caption == msg.text
            and entities == msg.entities
            and markup == msg.payload.get("reply_markup")
        ):
            raise bad_request(NOT_MODIFIED)
        msg.history.append(msg.text)
        msg.text, msg.entities, msg.html = caption, entities, params.get("caption")
        msg.keyboard = keyboard
        set_or_pop(msg.payload, "caption", caption)
        set_or_pop(msg.payload, "caption_entities", entities)
        set_or_pop(msg.payload, "reply_markup", markup)
        return _mark_edited(msg)

    async def edit_message_reply_markup(self, params: dict[str, Any]) -> Any:
        """editMessageReplyMarkup."""
        msg = self._editable(params)
        markup, keyboard, _ = parse_markup(params.get("reply_markup"), inline_only=True)
        if markup == msg.payload.get("reply_markup"):
            raise bad_request(NOT_MODIFIED)
        msg.keyboard = keyboard
        set_or_pop(msg.payload, "reply_markup", markup)
        return _mark_edited(msg)

    async def delete_message(self, params: dict[str, Any]) -> Any:
        """deleteMessage: the message stays in the log, flagged deleted."""
        chat = self._chats.find(params["chat_id"])
        if chat is None:
            raise bad_request("chat not found")
        msg = chat.message(params["message_id"])
        if msg is None or msg.deleted:
            raise bad_request("message to delete not found")
        msg.deleted = True
        return True

    async def answer_callback_query(self, params: dict[str, Any]) -> Any:
        """answerCallbackQuery: once per query."""
        query_id = params["callback_query_id"]
        if not self._queries.is_open(query_id):
            raise bad_request(QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and len(text) > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        answer = CallbackAnswer(
            text=text,
            show_alert=bool(params.get("show_alert", False)),
            url=params.get("url"),
            cache_time=params.get("cache_time"),
        )
        self._queries.answer(query_id, answer)
        return True

    def _editable(self, params: dict[str, Any]) -> ChatMessage:
        if "inline_message_id" in params:
            raise bad_request("method not supported by the emulator (inline messages)")
        if "chat_id" not in params:
            raise bad_request("chat_id is empty")
        if "message_id" not in params:
            raise bad_request("message identifier is not specified")
        chat = self._chats.target(params["chat_id"])
        msg = chat.message(params["message_id"])
        if msg is None or msg.deleted:
            raise bad_request("message to edit not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        return msg


def _show_reply_keyboard(chat: ChatView, msg: ChatMessage, markup: dict[str, Any] | None) -> None:
    """A message's reply keyboard replaces the one under the chat's input field; its
    ReplyKeyboardRemove takes that away."""
    msg.removes_keyboard = removes_keyboard(markup)
    if msg.reply_keyboard is not None:
        chat.show_reply_keyboard(
            msg.reply_keyboard, one_time=bool(markup and markup.get("one_time_keyboard"))
        )
    elif msg.removes_keyboard:
        chat.show_reply_keyboard(None)


def _mark_edited(msg: ChatMessage) -> dict[str, Any]:
    msg.edited = True
    msg.edit_count += 1
    msg.payload["edit_date"] = max(now(), msg.date)
    return payload_of(msg)


def _reply_payload(chat: ChatView, params: dict[str, Any]) -> dict[str, Any] | None:
    """The replied-to message for ``reply_parameters`` (or the legacy parameters)."""
    reply = params.get("reply_parameters") or {}
    reply_to = reply.get("message_id", params.get("reply_to_message_id"))
    if reply_to is None:
        return None
    target = chat.message(int(reply_to))
    if target is None or target.deleted:
        allow = reply.get("allow_sending_without_reply", params.get("allow_sending_without_reply"))
        if not allow:
            raise bad_request("message to be replied not found")
        return None
    return payload_of(target)
