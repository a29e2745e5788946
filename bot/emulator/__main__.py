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
import logging

from bot.emulator.control import control_routes
from bot.emulator.server import BotApiEmulator
from bot.emulator_kit import launcher

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
    log = logging.getLogger("bot.emulator")
    await launcher.run_forever(api, control_routes(api), log, "Bot API emulator")


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", default="123456:TEST-token")
    parser.add_argument("--bot-first-name", default="Test Bot")
    parser.add_argument("--bot-username", default="test_bot")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    launcher.main("Telegram Bot API emulator", 8081, _options, serve, argv)


if __name__ == "__main__":
    main()
