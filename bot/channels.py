"""One port for every channel: each action goes to the port of its chat's channel (Telegram,
or WhatsApp's synthetic chat ids, storage/repos/whatsapp.py). The pipeline and the
background jobs get this, so a WhatsApp customer's detractor alert reaches the Telegram
staff chat and a staff reply reaches the customer on WhatsApp."""

from __future__ import annotations

from handlers.port import Action, AnswerButton, ChatPort, Rejected
from storage.repos.whatsapp import is_whatsapp_chat

WHATSAPP_CALLBACK = "wa:"  # a WhatsApp ButtonPress's callback id (bot/whatsapp/events.py)
WHATSAPP_MEDIA = "wa-media:"  # a WhatsApp attachment's file id


def for_whatsapp(action: Action) -> bool:
    """True when the action goes to a WhatsApp chat (a button's answer: by its callback id)."""
    if isinstance(action, AnswerButton):
        return action.callback_id.startswith(WHATSAPP_CALLBACK)
    chat_id = getattr(action, "chat_id", None)
    return chat_id is not None and is_whatsapp_chat(chat_id)


class ChannelPorts:
    """Routes each action by chat id: Telegram's port, or WhatsApp's (either may be absent)."""

    def __init__(self, telegram: ChatPort | None, whatsapp: ChatPort | None) -> None:
        self.telegram = telegram
        self.whatsapp = whatsapp

    def _port(self, whatsapp: bool) -> ChatPort:
        port = self.whatsapp if whatsapp else self.telegram
        if port is None:
            raise Rejected(f"{'WhatsApp' if whatsapp else 'Telegram'} is not configured")
        return port

    async def perform(self, action: Action) -> int | None:
        """Performs the action through its chat's channel."""
        return await self._port(for_whatsapp(action)).perform(action)

    async def download(self, file_id: str, max_bytes: int) -> bytes:
        """A user's file from the channel that holds it."""
        return await self._port(file_id.startswith(WHATSAPP_MEDIA)).download(file_id, max_bytes)


def with_channels(telegram: ChatPort | None, whatsapp: ChatPort | None) -> ChatPort:
    """The port to hand the pipeline: each action to its chat's channel. Without WhatsApp
    settings, an action for a WhatsApp chat (a person who wrote before WhatsApp was
    switched off) is refused as "WhatsApp is not configured", never sent to Telegram as an
    unknown chat id."""
    return ChannelPorts(telegram, whatsapp)
