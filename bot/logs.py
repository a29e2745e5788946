"""Secrets never reach a log: every record is redacted on the root logger's handlers.

Libraries log what they like (python-telegram-bot's `ExtBot` logs the Bot API URL, which
holds the token, at DEBUG; a driver error may quote the database URL). So the redaction
does not trust loggers: a filter on each handler of the root logger rewrites the record's
message (msg with its args), its exception text and its stack text before any handler
formats it. What counts as a secret comes from the settings (`bot.settings.secret_values`:
the fields marked secret), so a new secret setting is covered by marking it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.settings import Settings, secret_values

REDACTED = "<redacted>"


class RedactSecrets(logging.Filter):
    """Replaces each secret in a record's final text with `<redacted>` (never drops one)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first: a token is redacted whole before its secret half is looked for.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every secret replaced."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrites the record in place, so every later handler sees the redacted text."""
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep its parts, redacted
            message = f"{record.msg} {record.args}"
        cleaned = self.redact(message)
        if cleaned != message or not isinstance(record.msg, str):
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def redact_secrets(settings: Settings) -> RedactSecrets:
    """Puts (or refreshes) the redaction filter on every handler of the root logger.

    Called when logging is configured and again when a runtime starts, so handlers added
    in between (a test's capture, an embedding application's) are covered too.
    """
    redactor = RedactSecrets(secret_values(settings))
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(redactor)
    return redactor
