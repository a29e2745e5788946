"""Run the emulator standalone: ``python -m bot.wa_emulator --port 8092``.

Point the bot at it (``WHATSAPP_API_URL=http://127.0.0.1:8092/v23.0``, the same token,
phone number id and app secret) and play customers through the control API:

    curl -d '{"wa_id": "37360000001", "name": "Ana", "text": "hi"}' \\
        http://127.0.0.1:8092/_emulator/send
    curl 'http://127.0.0.1:8092/_emulator/transcript?wa_id=37360000001'
    curl -d '{"wa_id": "37360000001", "message_id": "wamid.…", "button": "Yes"}' \\
        http://127.0.0.1:8092/_emulator/press

All routes: bot/wa_emulator/control.py and bot/wa_emulator/README.md.
"""

from __future__ import annotations

import argparse
import logging

from bot.emulator_kit import launcher
from bot.wa_emulator.control import control_routes
from bot.wa_emulator.server import CloudApiEmulator

__all__ = ["control_routes", "main", "serve"]

log = logging.getLogger("bot.wa_emulator")


async def serve(args: argparse.Namespace) -> None:
    """Start the emulator (and set the webhook when asked) and run until cancelled."""
    emulator = CloudApiEmulator(
        token=args.token,
        phone_number_id=args.phone_number_id,
        app_secret=args.app_secret,
        display_phone_number=args.display_phone_number,
        host=args.host,
        port=args.port,
        log_requests=True,
    )

    async def set_webhook() -> None:
        if args.webhook:
            await emulator.set_webhook(args.webhook, args.verify_token)
            log.info("webhook verified: %s", args.webhook)

    routes = control_routes(emulator)
    await launcher.run_forever(emulator, routes, log, "WhatsApp Cloud API emulator", set_webhook)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", default="EAAtest-token")
    parser.add_argument("--phone-number-id", default="106540352242922")
    parser.add_argument("--display-phone-number", default="15550783881")
    parser.add_argument("--app-secret", default="test-app-secret")
    parser.add_argument("--webhook", default="", help="the bot's webhook URL (verified at start)")
    parser.add_argument("--verify-token", default="verify-me")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    launcher.main("WhatsApp Cloud API emulator", 8092, _options, serve, argv)


if __name__ == "__main__":
    main()
