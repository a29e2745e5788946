"""A WhatsApp Cloud API emulator for end-to-end tests and demos.

The bot's HTTP client talks to it as to ``graph.facebook.com``; tests play customers
(``emulator.customer(...)``), receive signed webhooks and inspect every call.
"""

from bot.wa_emulator.customers import Customer
from bot.wa_emulator.models import (
    ApiCall,
    BusinessMessage,
    CloudApiError,
    CustomerMessage,
    ListRow,
    MediaFile,
    ReplyButton,
    WebhookAttempt,
)
from bot.wa_emulator.server import API_VERSION, CloudApiEmulator
from bot.wa_emulator.templates import Template
from bot.wa_emulator.webhooks import SIGNATURE_HEADER, WebhookVerificationError

__all__ = [
    "API_VERSION",
    "SIGNATURE_HEADER",
    "ApiCall",
    "BusinessMessage",
    "CloudApiEmulator",
    "CloudApiError",
    "Customer",
    "CustomerMessage",
    "ListRow",
    "MediaFile",
    "ReplyButton",
    "Template",
    "WebhookAttempt",
    "WebhookVerificationError",
]
