"""The demo's web server: the page, a small JSON API to act as the page's people, live
changes as server-sent events, and the files the bot sent. 127.0.0.1 only; every route but
the key's landing needs this run's cookie (auth.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from bot.demo.auth import KeyGuard
from bot.demo.live import DemoEmulator, event_stream
from bot.demo.views import (
    DemoPerson,
    chat_view,
    demo_photo,
    file_response,
    person_view,
)
from bot.emulator import ChatMessage, EmulatedUser

STATIC = Path(__file__).parent / "static"
MAX_TEXT = 4096  # what a Telegram client lets a person send
ANSWER_WAIT = 5.0  # seconds a press waits for the bot's answer (its toast)
STICKERS = ("👍", "😀", "😍", "🙏", "😡", "🎉")


class Summary(Protocol):
    """What a traffic simulation reports (bot/demo/traffic.py)."""

    @property
    def answers(self) -> int:
        """Answers added."""
        ...

    @property
    def live_detractors(self) -> int:
        """Detractors whose alerts went to the owner's chat."""
        ...


class Slip(Exception):
    """A request the page should not have sent: 400 with one line."""


class DemoWeb:
    """The page's server for one demo."""

    def __init__(
        self,
        api: DemoEmulator,
        owner: DemoPerson,
        customers: Sequence[DemoPerson],
        *,
        key: str,
        traffic: Callable[[], Awaitable[Summary]] | None = None,
    ) -> None:
        self.api = api
        self.owner = owner
        self.people: dict[int, DemoPerson] = {p.id: p for p in (owner, *customers)}
        self.guard = KeyGuard(key)
        self.traffic = traffic
        self.closing = asyncio.Event()
        self.origin = ""
        self._traffic_lock = asyncio.Lock()
        self._runner: web.AppRunner | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def application(self) -> web.Application:
        """The aiohttp application (tests serve it with their own client)."""
        app = web.Application(middlewares=[self.guard.middleware], client_max_size=64 * 1024)
        app.add_routes(
            [
                web.get("/", self.index),
                web.get("/api/people", self.list_people),
                web.get("/api/chats/{chat}", self.chat),
                web.post("/api/chats/{chat}/send", self.send),
                web.post("/api/chats/{chat}/press", self.press),
                web.post("/api/chats/{chat}/sticker", self.sticker),
                web.post("/api/chats/{chat}/photo", self.photo),
                web.post("/api/chats/{chat}/contact", self.contact),
                web.post("/api/traffic", self.simulate),
                web.get("/api/events", self.events),
                web.get("/api/files/{file_id}", self.file),
                web.static("/static", STATIC, append_version=False),
            ]
        )
        return app

    async def start(self, host: str, port: int) -> None:
        """Listens on host:port (0: a free port); OSError when it cannot."""
        runner = web.AppRunner(
            self.application(), access_log=None, shutdown_timeout=2, handle_signals=False
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.use_origin(host, runner.addresses[0][1])

    def use_origin(self, host: str, port: int) -> None:
        """The address the page is served at (its cookie is named after the port)."""
        self.origin = f"http://{host}:{port}"
        self.guard.use_port(port)

    async def stop(self) -> None:
        """Ends the live streams and stops listening."""
        self.closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- reading -------------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        """The page."""
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    def _user(self, request: web.Request) -> EmulatedUser:
        """The person whose chat a route names (one of the page's people)."""
        try:
            chat_id = int(request.match_info["chat"])
        except ValueError:
            raise Slip("the chat is a number") from None
        person = self.people.get(chat_id)
        if person is None:
            raise Slip(f"no person {chat_id} in this demo")
        return self.api.user(person.id, person.first_name, language_code=person.language_code)

    async def list_people(self, request: web.Request) -> web.Response:
        """The owner and the customers, with each chat's last line."""
        rows = [
            person_view(p, self.api.user(p.id, p.first_name, language_code=p.language_code),
                        owner=p.id == self.owner.id)
            for p in self.people.values()
        ]  # fmt: skip
        return web.json_response(
            {
                "bot": {"name": self.api.bot_first_name, "username": self.api.bot_username},
                "people": rows,
                "traffic": self.traffic is not None and _traffic_available(),
            }
        )

    async def chat(self, request: web.Request) -> web.Response:
        """One chat's messages."""

        async def act() -> web.Response:
            return web.json_response(chat_view(self._user(request)))

        return await _answer(act)

    async def file(self, request: web.Request) -> web.Response:
        """A file the bot (or a person) sent: pictures inline, the rest as downloads."""
        info = self.api.files.get(request.match_info["file_id"])
        if info is None:
            return web.json_response({"error": "no such file"}, status=404)
        return file_response(info, download="download" in request.query)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: which chats changed."""
        return await event_stream(request, self.api, self.closing)

    # --- acting --------------------------------------------------------------------------

    async def send(self, request: web.Request) -> web.Response:
        """{text}: the person writes a message."""

        async def act() -> web.Response:
            user, body = self._user(request), await _body(request)
            text = body.get("text")
            if not isinstance(text, str) or not text.strip():
                raise Slip("text is empty")
            if len(text) > MAX_TEXT:
                raise Slip(f"text is longer than {MAX_TEXT} characters")
            if user.reply_keyboard_one_time and _on_reply_keyboard(user, text):
                user.show_reply_keyboard(None)  # a tap on a one-time keyboard hides it
            return web.json_response({"update_id": user.send(text)})

        return await _answer(act)

    async def press(self, request: web.Request) -> web.Response:
        """{message_id, row, column}: the person taps an inline button; the bot's answer
        (its toast or alert) comes back when it arrives in time."""

        async def act() -> web.Response:
            user, body = self._user(request), await _body(request)
            msg = _message(user, body.get("message_id"))
            row, column = body.get("row"), body.get("column")
            if not isinstance(row, int) or not isinstance(column, int):
                raise Slip("row and column are numbers")
            try:
                button = msg.keyboard[row][column] if row >= 0 and column >= 0 else None
            except IndexError:
                button = None
            if button is None or button.callback_data is None:
                raise Slip("that button is not on the message (any more)")
            query_id = user.press_data(msg, button.callback_data)
            answers = self.api.callback_answers
            try:
                await self.api.wait_until(lambda: query_id in answers, timeout=ANSWER_WAIT)
            except AssertionError:
                return web.json_response({"answer": None})
            answer = answers[query_id]
            return web.json_response(
                {"answer": {"text": answer.text, "show_alert": answer.show_alert}}
            )

        return await _answer(act)

    async def sticker(self, request: web.Request) -> web.Response:
        """{emoji}: the person sends a sticker."""

        async def act() -> web.Response:
            user, body = self._user(request), await _body(request)
            emoji = body.get("emoji", STICKERS[0])
            if emoji not in STICKERS:
                raise Slip("an emoji the sticker button offers")
            return web.json_response({"update_id": user.send_sticker(emoji)})

        return await _answer(act)

    async def photo(self, request: web.Request) -> web.Response:
        """{}: the person sends a small generated picture."""

        async def act() -> web.Response:
            user = self._user(request)
            await _body(request)
            picture = demo_photo(len(user.messages) * 37 + user.id)
            return web.json_response({"update_id": user.send_photo(picture)})

        return await _answer(act)

    async def contact(self, request: web.Request) -> web.Response:
        """{}: the person taps the reply keyboard's "share my number" button."""

        async def act() -> web.Response:
            user = self._user(request)
            await _body(request)
            rows = user.reply_keyboard or []
            if not any(b.request_contact for row in rows for b in row):
                raise Slip("the chat shows no button that shares the phone number")
            # A made-up Moldovan mobile number, the same for a person every time.
            return web.json_response({"update_id": user.share_contact(f"3736{user.id:07d}")})

        return await _answer(act)

    async def simulate(self, request: web.Request) -> web.Response:
        """{}: fills in answers over the last 90 days (bot/demo/traffic.py); one at a time."""
        await _body(request)
        if self.traffic is None or not _traffic_available():
            return web.json_response({"error": "no traffic simulation here"}, status=404)
        if self._traffic_lock.locked():
            return web.json_response({"error": "a simulation is running"}, status=409)
        async with self._traffic_lock:
            summary = await self.traffic()
        return web.json_response(
            {"answers": summary.answers, "live_detractors": summary.live_detractors}
        )


def _traffic_available() -> bool:
    """Whether bot/demo/traffic.py is there."""
    import importlib.util

    return importlib.util.find_spec("bot.demo.traffic") is not None


def _on_reply_keyboard(user: EmulatedUser, text: str) -> bool:
    rows = user.reply_keyboard or []
    return any(b.text == text and not b.request_contact for row in rows for b in row)


def _message(user: EmulatedUser, message_id: Any) -> ChatMessage:
    if not isinstance(message_id, int):
        raise Slip("message_id is a number")
    msg = user.message(message_id)
    if msg is None or msg.deleted:
        raise Slip(f"no message #{message_id} in this chat")
    return msg


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object a POST carries (the guard checked its content type)."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Slip("the body is not JSON") from None
    if not isinstance(body, dict):
        raise Slip("the body is a JSON object")
    return body


async def _answer(act: Callable[[], Awaitable[web.Response]]) -> web.Response:
    """The route's answer, or 400 with one line for a slip."""
    try:
        return await act()
    except Slip as slip:
        return web.json_response({"error": str(slip)}, status=400)
