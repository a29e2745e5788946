"""Dispatches plain events to handlers; every route is registered in `create_router`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from handlers import account, staff, stats, survey
from handlers.access import Role, role_of
from handlers.callbacks import (
    LanguageChoice,
    MalformedCallback,
    Payload,
    ScoreChoice,
    SkipStep,
    unpack,
)
from handlers.context import Context
from handlers.events import BlockChange, ButtonPress, Command, Event, Message, parse_command

log = logging.getLogger(__name__)

CommandHandler = Callable[[Message, Command, Context], Awaitable[None]]
ButtonHandler = Callable[[ButtonPress, Any, Context], Awaitable[None]]
# Returns True when it consumed the message (e.g. the next step of a staff dialog).
Interceptor = Callable[[Message, Context], Awaitable[bool]]


@dataclass(frozen=True)
class CommandRoute:
    """A command, where it may be used, and the least role it needs."""

    handler: CommandHandler
    in_groups: bool = False
    role: Role = Role.NONE


@dataclass(frozen=True)
class ButtonRoute:
    """A button payload type and the least role pressing it needs."""

    handler: ButtonHandler
    role: Role = Role.NONE


class Router:
    """Maps commands, button payload types and other events to handlers."""

    def __init__(self) -> None:
        self._commands: dict[str, CommandRoute] = {}
        self._buttons: dict[type[Payload], ButtonRoute] = {}
        self._message: Callable[[Message, Context], Awaitable[None]] | None = None
        self._unknown_command: CommandHandler | None = None
        self._block_change: Callable[[BlockChange, Context], Awaitable[None]] | None = None
        self._interceptors: list[Interceptor] = []

    def command(
        self,
        name: str,
        handler: CommandHandler,
        *,
        role: Role = Role.NONE,
        in_groups: bool | None = None,
    ) -> None:
        """Routes `/name` to a handler; staff commands also work in (staff) group chats."""
        groups = role > Role.NONE if in_groups is None else in_groups
        self._commands[name] = CommandRoute(handler, groups, role)

    def button(
        self, payload_type: type[Payload], handler: ButtonHandler, *, role: Role = Role.NONE
    ) -> None:
        """Routes presses of buttons carrying this payload type."""
        self._buttons[payload_type] = ButtonRoute(handler, role)

    def commands_for(self, role: Role) -> list[str]:
        """Commands a user with this role may use, in registration order."""
        return [name for name, route in self._commands.items() if route.role <= role]

    def intercept(self, interceptor: Interceptor) -> None:
        """Lets a feature claim plain messages first (staff dialogs, replies to a case).

        Interceptors run in registration order for every non-command message, in private
        and group chats; the first that returns True has handled it.
        """
        self._interceptors.append(interceptor)

    def messages(self, handler: Callable[[Message, Context], Awaitable[None]]) -> None:
        """The handler for private messages that are not commands."""
        self._message = handler

    def unknown_command(self, handler: CommandHandler) -> None:
        """The handler for commands nobody registered."""
        self._unknown_command = handler

    def block_changes(self, handler: Callable[[BlockChange, Context], Awaitable[None]]) -> None:
        """The handler for the user blocking or unblocking the bot."""
        self._block_change = handler

    @property
    def command_names(self) -> list[str]:
        """Registered command names, in registration order."""
        return list(self._commands)

    async def route(self, event: Event, ctx: Context) -> None:
        """Runs the handler the event belongs to (or none, for foreign group chatter)."""
        if isinstance(event, Message):
            await self._route_message(event, ctx)
        elif isinstance(event, ButtonPress):
            await self._route_button(event, ctx)
        elif isinstance(event, BlockChange) and self._block_change is not None:
            await self._block_change(event, ctx)

    async def _route_message(self, event: Message, ctx: Context) -> None:
        command = (
            parse_command(event.text, ctx.config.bot_username) if event.kind == "text" else None
        )
        if command is not None:
            route = self._commands.get(command.name)
            if route is not None and (event.private or route.in_groups):
                # Checked on every call: a revoked role stops working at once.
                if route.role and await role_of(ctx, event.sender.id) < route.role:
                    ctx.out.send(event.chat_id, ctx.texts("not_permitted"))
                    return
                await route.handler(event, command, ctx)
            elif event.private and self._unknown_command is not None:
                await self._unknown_command(event, command, ctx)
            return
        for interceptor in self._interceptors:
            if await interceptor(event, ctx):
                return
        if event.private and self._message is not None:
            await self._message(event, ctx)

    async def _route_button(self, event: ButtonPress, ctx: Context) -> None:
        try:
            payload = unpack(event.data)
        except MalformedCallback as exc:
            log.info("rejected button from %s: %s", event.sender.id, exc)
            ctx.out.answer(event.callback_id, ctx.texts.plain("bad_button"), alert=True)
            return
        route = self._buttons.get(type(payload))
        if route is None:
            ctx.out.answer(event.callback_id, ctx.texts.plain("bad_button"), alert=True)
            return
        if route.role and await role_of(ctx, event.sender.id) < route.role:
            ctx.out.answer(event.callback_id, ctx.texts.plain("not_permitted"), alert=True)
            return
        await route.handler(event, payload, ctx)


def create_router() -> Router:
    """Registers every feature's routes in one place, in a fixed order."""
    router = Router()
    # The respondent's survey.
    router.command("start", survey.on_start)
    router.button(ScoreChoice, survey.on_score_pressed)
    router.button(SkipStep, survey.on_skip_pressed)
    # Account: help, unsubscribe, language, blocking.
    router.command("help", account.on_help)
    router.command("stop", account.on_stop)
    router.command("language", account.on_language)
    router.command("cancel", account.on_cancel, in_groups=True)
    router.button(LanguageChoice, account.on_language_pressed)
    router.block_changes(account.on_block_change)
    # Owner reports (viewers and up) and role management (owners).
    router.command("nps", stats.on_nps, role=Role.VIEWER)
    router.command("grant", staff.on_grant, role=Role.OWNER)
    router.command("revoke", staff.on_revoke, role=Role.OWNER)
    router.command("staff", staff.on_staff, role=Role.OWNER)
    # Catch-alls last: plain messages feed the open survey step; unknown commands get help.
    router.messages(survey.on_message)
    router.unknown_command(account.on_unknown_command)
    return router
