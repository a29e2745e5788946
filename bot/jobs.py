"""What a background job (digest, broadcasts, reminders) gets from the application.

This module sits below `bot/app.py`: the jobs are typed against `JobHost`, and
`bot.app.BotApp` satisfies it, so no job module imports the application back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from handlers.port import ChatPort

if TYPE_CHECKING:
    from bot.i18n import Catalogs
    from bot.pipeline import Pipeline
    from bot.settings import Settings
    from storage.db import Database


class JobHost(Protocol):
    """The parts of `bot.app.BotApp` the background jobs use."""

    @property
    def settings(self) -> Settings: ...

    @property
    def db(self) -> Database: ...

    @property
    def catalogs(self) -> Catalogs: ...

    @property
    def pipeline(self) -> Pipeline: ...

    def clock(self) -> datetime:
        """ "Now" (aware UTC); tests move it on the application."""
        ...


# A long-running task beside the update loop (digests, broadcasts, reminders). It gets the
# application and a ChatPort for sending without an incoming update, and runs until cancelled.
BackgroundJob = Callable[[JobHost, ChatPort], Awaitable[None]]
