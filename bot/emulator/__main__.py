"""Run the emulator standalone: ``python -m bot.emulator --port 8081 --token 123:ABC``.

Point a bot at it (``TelegramAPIServer.from_base("http://127.0.0.1:8081")`` or PTB's
``base_url``) and play the user through the small control API under ``/_emulator/``:

    curl -d '{"user_id": 1001, "text": "/start"}' http://127.0.0.1:8081/_emulator/send
    curl http://127.0.0.1:8081/_emulator/transcript?chat_id=1001
    curl -d '{"user_id": 1001, "message_id": 2, "button": "9"}' http://127.0.0.1:8081/_emulator/press
    curl -d '{"user_id": 1001, "language_code": "ru"}' http://127.0.0.1:8081/_emulator/language
    curl http://127.0.0.1:8081/_emulator/files?chat_id=1001

All routes: bot/emulator/control.py and bot/emulator/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from bot.emulator.control import control_routes
from bot.emulator.server import BotApiEmulator

__all__ = ["control_routes", "main", "serve"]


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
