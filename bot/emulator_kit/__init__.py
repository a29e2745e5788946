"""What the Telegram Bot API emulator (bot/emulator) and the WhatsApp Cloud API emulator
(bot/wa_emulator) share: the change signal, the aiohttp server, the lifecycle, injected
faults, the control API's helpers and the ``python -m`` launcher. It imports neither
emulator nor anything of the application."""
