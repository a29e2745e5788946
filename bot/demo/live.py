"""Live updates for the page: which chats changed, counted by the emulator, streamed as
server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.emulator import BotApiEmulator, ChatMessage, ChatView

# A comment line this often keeps proxies and the browser from closing a quiet stream,
# and ends the handler soon after the browser went away (the write fails).
KEEPALIVE_SECONDS = 15.0
SENDS = {"sendMessage", "sendPhoto", "sendDocument"}


class DemoEmulator(BotApiEmulator):
    """The emulator, numbering its changes per chat so the page fetches only what changed.

    Uses the emulator's documented subclass hooks: `message_added` (a person's or the bot's
    new message) and `handle` (every Bot API call: edits, deletions, sends).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.version = 0
        self.changed: dict[int, int] = {}  # chat id -> the version of its last change

    def touch(self, chat_id: int) -> None:
        """Records a change in a chat."""
        self.version += 1
        self.changed[chat_id] = self.version

    def changes_since(self, version: int) -> list[int]:
        """The chats changed after `version`."""
        return sorted(chat for chat, at in self.changed.items() if at > version)

    def message_added(self, chat: ChatView, msg: ChatMessage) -> None:
        """A new message, the bot's or a person's."""
        self.touch(chat.id)

    async def handle(self, method: str, params: dict[str, Any]) -> Any:
        """Every validated call; one naming a chat changed it (after it took effect)."""
        chat_id = _number(params.get("chat_id"))
        if method in SENDS and chat_id is not None and chat_id > 0 and chat_id not in self.users:
            # Everyone the bot knows pressed Start once, the simulated history's customers
            # too: a broadcast reaches them, in chats the page does not show.
            self.user(chat_id, "Customer").started = True
        try:
            return await super().handle(method, params)
        finally:
            if chat_id is not None:
                self.touch(chat_id)


def _number(value: Any) -> int | None:
    """A numeric chat id (as an int or a string), else None."""
    with contextlib.suppress(TypeError, ValueError):
        return int(value) if value is not None else None
    return None


async def event_stream(
    request: web.Request, api: DemoEmulator, closing: asyncio.Event
) -> web.StreamResponse:
    """`GET /api/events`: `change` events `{"version", "chats"}` as chats change, until the
    browser leaves or the demo stops."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    seen = api.version

    def moved(since: int) -> Callable[[], bool]:
        return lambda: api.version != since or closing.is_set()

    try:
        # The browser reconnects after a second if the stream breaks; "hello" makes it
        # fetch everything again, since changes in between were not streamed.
        await response.write(f"retry: 1000\nevent: hello\ndata: {seen}\n\n".encode())
        while not closing.is_set():
            try:
                await api.wait_until(moved(seen), timeout=KEEPALIVE_SECONDS)
            except AssertionError:  # nothing changed for a while
                await response.write(b": keepalive\n\n")
                continue
            if closing.is_set():
                break
            chats = api.changes_since(seen)
            seen = api.version
            data = json.dumps({"version": seen, "chats": chats})
            await response.write(f"event: change\ndata: {data}\n\n".encode())
    except ConnectionResetError:
        pass  # the browser left: nothing to tell anyone
    return response
