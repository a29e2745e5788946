"""Run the emulator standalone: ``python -m bot.emulator --port 8081 --token 123:ABC``.

Point a bot at it (``TelegramAPIServer.from_base("http://127.0.0.1:8081")`` or PTB's
``base_url``) and play the user through the small control API under ``/_emulator/``:

    curl -d '{"user_id": 1001, "text": "/start"}' http://127.0.0.1:8081/_emulator/send
    curl http://127.0.0.1:8081/_emulator/transcript?chat_id=1001
    curl -d '{"user_id": 1001, "message_id": 2, "button": "9"}' http://127.0.0.1:8081/_emulator/press
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import web

from bot.emulator.server import BotApiEmulator


def control_routes(api: BotApiEmulator) -> list[web.RouteDef]:
    """HTTP endpoints that let a person act as a Telegram user."""

    async def send(request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        user = api.user(
            int(body["user_id"]),
            first_name=body.get("first_name", "User"),
            username=body.get("username"),
        )
        return web.json_response({"update_id": user.send(str(body["text"]))})

    async def press(request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        user = api.user(int(body["user_id"]))
        chat = api._chat(int(body.get("chat_id", user.id)))
        msg = chat.message(int(body["message_id"]))
        if msg is None:
            raise web.HTTPNotFound(text="no such message")
        if "data" in body:
            query_id = user.press_data(msg, str(body["data"]))
        else:
            try:
                query_id = user.press(msg, str(body["button"]))
            except AssertionError as missing:  # no such button (any more): the person's slip
                raise web.HTTPBadRequest(text=str(missing).splitlines()[0]) from None
        return web.json_response({"callback_query_id": query_id})

    async def transcript(request: web.Request) -> web.Response:
        chat = api._chat(int(request.query["chat_id"]))
        return web.Response(text=chat.transcript() + "\n")

    async def state(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "users": sorted(api.users),
                "groups": sorted(api.groups),
                "pending_updates": len(api.pending_updates),
                "calls": len(api.calls),
            }
        )

    return [
        web.post("/_emulator/send", send),
        web.post("/_emulator/press", press),
        web.get("/_emulator/transcript", transcript),
        web.get("/_emulator/", state),
    ]


async def serve(args: argparse.Namespace) -> None:
    """Start the emulator and run until cancelled."""
    api = BotApiEmulator(
        token=args.token,
        host=args.host,
        port=args.port,
        bot_first_name=args.bot_first_name,
        bot_username=args.bot_username,
        log_requests=True,
    )
    api.add_routes(control_routes(api))
    async with api:
        logging.getLogger("bot.emulator").info("Bot API emulator on %s", api.base_url)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST-token")
    parser.add_argument("--bot-first-name", default="Test Bot")
    parser.add_argument("--bot-username", default="test_bot")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
