"""Dispatches plain events to handlers; every route is registered in `create_router`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from handlers import (
    account,
    alerts,
    audience,
    autopilot,
    broadcast,
    case_replies,
    chart,
    comments,
    crm_events,
    csat_stats,
    digest,
    export,
    integrations,
    phones,
    privacy,
    staff,
    stats,
    survey,
    survey_dialog,
    surveys_admin,
    themes,
)
from handlers.access import refresh_menu, refusal_key, role_of
from handlers.broadcast_messages import BroadcastStop
from handlers.callbacks import (
    CaseReply,
    CaseResolve,
    CommentsPage,
    LanguageChoice,
    MalformedCallback,
    Payload,
    ScoreChoice,
    SkipStep,
    ThemeCommentsPage,
    unpack,
)
from handlers.context import Hooks, UpdateContext
from handlers.events import (
    BlockChange,
    ButtonPress,
    Command,
    Event,
    IncomingMessage,
    parse_command,
)
from handlers.roles import Role

log = logging.getLogger(__name__)

# What everyone sees in Telegram's command menu (the default scope).
RESPONDENT_MENU = ("start", "help", "language", "stop")

CommandHandler = Callable[[IncomingMessage, Command, UpdateContext], Awaitable[None]]
ButtonHandler = Callable[[ButtonPress, Any, UpdateContext], Awaitable[None]]
# Returns True when it consumed the message (e.g. the next step of a staff dialog).
Interceptor = Callable[[IncomingMessage, UpdateContext], Awaitable[bool]]


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


class Routes:
    """Maps commands, button payload types and other events to handlers."""

    def __init__(self) -> None:
        self._commands: dict[str, CommandRoute] = {}
        self._buttons: dict[type[Payload], ButtonRoute] = {}
        self._message: Callable[[IncomingMessage, UpdateContext], Awaitable[None]] | None = None
        self._unknown_command: CommandHandler | None = None
        self._block_change: Callable[[BlockChange, UpdateContext], Awaitable[None]] | None = None
        self._interceptors: list[Interceptor] = []
        self.hooks = Hooks()
        self.hooks.menu = self.menu_for

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

    def menu_for(self, role: Role) -> list[str]:
        """The Telegram command menu of a user with this role: the respondent's commands,
        then (for the team) every command the role opens, in registration order."""
        public = [name for name in RESPONDENT_MENU if name in self._commands]
        if role == Role.NONE:
            return public
        team = [n for n, route in self._commands.items() if Role.NONE < route.role <= role]
        return public + team

    def intercept(self, interceptor: Interceptor) -> None:
        """Lets a feature claim plain messages first (staff dialogs, replies to a case).

        Interceptors run in registration order for every non-command message, in private
        and group chats; the first that returns True has handled it.
        """
        self._interceptors.append(interceptor)

    def messages(
        self, handler: Callable[[IncomingMessage, UpdateContext], Awaitable[None]]
    ) -> None:
        """The handler for private messages that are not commands."""
        self._message = handler

    def unknown_command(self, handler: CommandHandler) -> None:
        """The handler for commands nobody registered."""
        self._unknown_command = handler

    def block_changes(
        self, handler: Callable[[BlockChange, UpdateContext], Awaitable[None]]
    ) -> None:
        """The handler for the user blocking or unblocking the bot."""
        self._block_change = handler

    @property
    def command_names(self) -> list[str]:
        """Registered command names, in registration order."""
        return list(self._commands)

    def accepts(self, command: str, *, private: bool) -> bool:
        """True when `/command` has a route for this kind of chat (an embedded npsbot asks)."""
        route = self._commands.get(command)
        return route is not None and (private or route.in_groups)

    def restrict(self, keep: Collection[str], *, aliases: Mapping[str, str]) -> None:
        """Serves only `keep` and the `aliases` (new name → registered command), and stays
        silent on other commands: inside a host bot they are the host's."""
        commands = self._commands
        restricted = {name: commands[target] for name, target in aliases.items()}
        restricted.update({name: route for name, route in commands.items() if name in keep})
        self._commands = restricted
        self._unknown_command = None

    async def route(self, event: Event, ctx: UpdateContext) -> None:
        """Runs the handler the event belongs to (or none, for foreign group chatter)."""
        if not isinstance(event, ButtonPress) and event.chat_id in ctx.config.alert_chats:
            # An owner who could not get their alerts wrote (or unblocked): they go now.
            await alerts.on_owner_seen(event, ctx)
        if isinstance(event, IncomingMessage):
            await self._route_message(event, ctx)
        elif isinstance(event, ButtonPress):
            await self._route_button(event, ctx)
        elif isinstance(event, BlockChange) and self._block_change is not None:
            await self._block_change(event, ctx)

    async def _route_message(self, event: IncomingMessage, ctx: UpdateContext) -> None:
        # A media message's command is its caption (a .csv file captioned /import).
        source = event.text if event.kind == "text" else event.caption
        command = parse_command(source, ctx.config.bot_username)
        if command is not None:
            route = self._commands.get(command.name)
            if route is not None and (event.private or route.in_groups):
                # Checked on every call: a revoked role stops working at once.
                if route.role and (have := await role_of(ctx, event.sender.id)) < route.role:
                    key = refusal_key(have, route.role)
                    ctx.out.send(event.chat_id, ctx.texts(key, command=command.name))
                    return
                await route.handler(event, command, ctx)
                if command.name == "start" and event.private:
                    await refresh_menu(ctx, event.sender.id, event.chat_id)
            elif event.private and self._unknown_command is not None:
                await self._unknown_command(event, command, ctx)
            return
        if self._interceptors:
            person = ctx.respondent.id if ctx.respondent is not None else None
            ctx.pending = await ctx.store.pending.of(event.sender.id, event.chat_id, person)
        for interceptor in self._interceptors:
            if await interceptor(event, ctx):
                return
        if event.private and self._message is not None:
            await self._message(event, ctx)

    async def _route_button(self, event: ButtonPress, ctx: UpdateContext) -> None:
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
        if route.role and (have := await role_of(ctx, event.sender.id)) < route.role:
            key = refusal_key(have, route.role, button=True)
            ctx.out.answer(event.callback_id, ctx.texts.plain(key), alert=True)
            return
        await route.handler(event, payload, ctx)


def create_router() -> Routes:
    """Registers every feature's routes in one place, in a fixed order."""
    router = Routes()
    # The respondent's survey.
    router.command("start", survey.on_start)
    router.button(ScoreChoice, survey.on_score_pressed)
    router.button(SkipStep, survey.on_skip_pressed)
    # Phone numbers: offered after a survey's thanks when it asks, /phone, shared contacts
    # (the first interceptor: a contact shared from the offer is never a reply to staff).
    router.command("phone", phones.on_phone)
    router.button(phones.PhoneAction, phones.on_phone_pressed)
    router.intercept(phones.intercept_contact)
    # Account: help, unsubscribe, language, blocking.
    router.command("help", account.on_help)
    router.command("stop", account.on_stop)
    router.command("language", account.on_language)
    router.command("cancel", account.on_cancel, in_groups=True)
    router.button(LanguageChoice, account.on_language_pressed)
    router.block_changes(account.on_block_change)
    # Owner reports (viewers and up) and role management (owners).
    router.command("nps", stats.on_nps, role=Role.VIEWER)
    router.command("csat", csat_stats.on_csat, role=Role.VIEWER)
    router.command("ces", csat_stats.on_ces, role=Role.VIEWER)
    router.command("export", export.on_export, role=Role.VIEWER)
    router.command("chart", chart.on_chart, role=Role.VIEWER)
    router.command("comments", comments.on_comments, role=Role.VIEWER)
    router.command("digest", digest.on_digest, role=Role.VIEWER)
    router.button(CommentsPage, comments.on_comments_page, role=Role.VIEWER)
    # Themes of comments (issue 15): the report for viewers; the dictionary and the
    # suggestions' buttons for admins (handlers/themes.py re-checks edit and remove).
    router.command("themes", themes.on_themes, role=Role.VIEWER)
    router.button(themes.ThemeDecision, themes.on_theme_decision, role=Role.ADMIN)
    router.button(ThemeCommentsPage, comments.on_comments_page, role=Role.VIEWER)
    router.command("grant", staff.on_grant, role=Role.OWNER)
    router.command("revoke", staff.on_revoke, role=Role.OWNER)
    router.command("staff", staff.on_staff, role=Role.OWNER)
    router.hooks.help_sections += [(Role.VIEWER, "staff_help"), (Role.OWNER, "owner_help")]
    # /csat and /ces, just under the team's /nps lines.
    router.hooks.help_sections.insert(-1, (Role.VIEWER, "cs_help"))
    # /themes after the owner's section (viewers see it under the team commands).
    router.hooks.help_sections.append((Role.VIEWER, "th_help"))
    # Detractor alerts and closing the loop (the buttons check membership of the alert chat).
    # Events for the CRM first: a score's event goes before the case it opens (alerts).
    router.hooks.on_score.append(crm_events.on_score)
    router.hooks.on_text.append(crm_events.on_text)
    router.hooks.on_score.append(alerts.on_score)
    router.hooks.on_text.append(alerts.on_text)
    router.hooks.report_extras.append(alerts.cases_line)
    router.hooks.cancellers.append(case_replies.cancel_reply)
    router.hooks.forgetters.append(alerts.forget_person)
    router.button(CaseReply, case_replies.on_reply_pressed)
    router.button(CaseResolve, case_replies.on_resolve_pressed)
    router.intercept(case_replies.relay_staff_reply)
    router.intercept(case_replies.relay_respondent_answer)
    # Surveys from the chat (admins and owners): list, guided create / edit dialog, links.
    router.command("surveys", surveys_admin.on_surveys, role=Role.ADMIN, in_groups=False)
    router.command("newsurvey", surveys_admin.on_new_survey, role=Role.ADMIN, in_groups=False)
    router.command("link", surveys_admin.on_link, role=Role.ADMIN)
    router.button(surveys_admin.SurveyAction, surveys_admin.on_survey_action, role=Role.ADMIN)
    router.button(survey_dialog.DialogChoice, survey_dialog.on_dialog_choice, role=Role.ADMIN)
    router.hooks.cancellers.append(survey_dialog.cancel_dialog)
    router.hooks.help_sections.append((Role.ADMIN, "sv_help"))
    # A staff member in the middle of a survey dialog: their text answers its step.
    router.intercept(survey_dialog.intercept_dialog_text)
    # Privacy: everyone sees and erases their own data; admins erase a user's on request.
    router.command("mydata", privacy.on_mydata)
    router.command("forgetme", privacy.on_forget_me)
    router.button(privacy.ForgetMe, privacy.on_forget_me_pressed)
    router.command("forget", privacy.on_forget, role=Role.ADMIN, in_groups=False)
    router.button(privacy.ForgetUser, privacy.on_forget_user_pressed, role=Role.ADMIN)
    router.button(privacy.ForgetPerson, privacy.on_forget_person_pressed, role=Role.ADMIN)
    router.hooks.help_sections.insert(0, (Role.NONE, "pv_help"))
    router.hooks.help_sections.insert(1, (Role.NONE, "ph_help"))
    # Broadcasts and contact lists (admins and owners); the worker in bot/broadcast sends.
    router.command("broadcast", broadcast.on_broadcast, role=Role.ADMIN, in_groups=False)
    router.button(broadcast.BroadcastConfirm, broadcast.on_confirm, role=Role.ADMIN)
    router.button(BroadcastStop, broadcast.on_stop, role=Role.ADMIN)
    router.command("import", audience.on_import, role=Role.ADMIN, in_groups=False)
    router.intercept(audience.intercept_import)
    router.hooks.cancellers.append(audience.cancel_import)
    router.hooks.help_sections.append((Role.ADMIN, "bc_help"))
    # Relationship surveys on autopilot (admins and owners); the job in bot/autopilot.py runs them.
    router.command("autopilot", autopilot.on_autopilot, role=Role.ADMIN)
    router.hooks.help_sections.append((Role.ADMIN, "ap_help"))
    # Signed events for the CRM (EVENTS_URLS): their progress per receiver (admins).
    router.command("integrations", integrations.on_integrations, role=Role.ADMIN, in_groups=False)
    router.hooks.help_sections.append((Role.ADMIN, "ig_help"))
    # Catch-alls last: plain messages feed the open survey step; unknown commands get help.
    router.messages(survey.on_message)
    router.unknown_command(account.on_unknown_command)
    return router


def create_embedded_router(
    *, entry_command: str = "survey", take_start: bool = False, commands: Collection[str] = ()
) -> Routes:
    """npsbot's routes inside a host bot (bot/embed.py).

    The survey starts with `/<entry_command>` (and with `/start` only when `take_start`);
    of npsbot's other commands only those named in `commands` are served; buttons and the
    open survey step work as in the standalone bot.
    """
    router = create_router()
    unknown = set(commands) - set(router.command_names)
    if unknown:
        raise ValueError(f"npsbot has no command(s) {', '.join(sorted(unknown))}")
    keep = set(commands) | ({"start"} if take_start else set())
    aliases = {entry_command: "start"} if entry_command and entry_command != "start" else {}
    router.restrict(keep, aliases=aliases)
    return router
