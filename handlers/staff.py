"""Owners grant and revoke the viewer and admin roles from the chat."""

from __future__ import annotations

from handlers import alerts
from handlers.access import command_menu
from handlers.context import UpdateContext
from handlers.events import Command, IncomingMessage
from handlers.people import resolve_person
from handlers.port import SendText
from handlers.roles import Role

GRANTABLE = ("viewer", "admin")


async def describe_user(ctx: UpdateContext, user_id: int) -> str:
    """ "Anna (@anna · 123)" when the user talked to the bot, else the id."""
    respondent = await ctx.store.respondents.by_telegram(user_id)
    if respondent is None:
        return str(user_id)
    handle = f"@{respondent.username} · " if respondent.username else ""
    return f"{respondent.first_name or ''} ({handle}{user_id})".strip()


async def on_grant(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Gives a user the viewer or admin role (owners only)."""
    parts = command.args.split()
    if len(parts) != 2 or parts[1].lower() not in GRANTABLE:
        ctx.out.send(event.chat_id, ctx.texts("grant_usage"))
        return
    user_id = await resolve_person(ctx, event.chat_id, parts[0], "unknown_user")
    if user_id is None:
        return
    who = await describe_user(ctx, user_id)
    if user_id in ctx.config.admin_ids:
        ctx.out.send(event.chat_id, ctx.texts("owner_is_fixed", who=who))
        return
    role = parts[1].lower()
    await ctx.store.staff.grant(user_id, role, granted_by=event.sender.id)
    ctx.out.send(
        event.chat_id, ctx.texts("granted", who=who, role=ctx.texts.plain(f"role_{role}"))
    )
    await tell_granted(ctx, user_id, Role[role.upper()], who=who, owner_chat=event.chat_id)


async def tell_granted(
    ctx: UpdateContext, user_id: int, role: Role, *, who: str, owner_chat: int
) -> None:
    """Tells a person the role they were given and the commands it opens, in their own
    language, and puts those commands in their Telegram menu.

    Someone who never pressed Start (or blocked the bot) cannot be written to: the owner
    is told so instead; the menu follows at the next start-up after they press Start.
    """
    not_told = SendText(owner_chat, ctx.texts("grant_not_told", who=who))
    person = await ctx.store.respondents.by_telegram(user_id)  # team: a Telegram account
    if person is None or person.unreachable or person.chat_id is None:
        ctx.out.actions.append(not_told)
        return
    texts = ctx.catalogs.texts(
        ctx.catalogs.resolve(person.language_override, person.telegram_language)
    )
    parts = [texts(f"granted_you_{role.name.lower()}", brand=ctx.config.brand)]
    parts += [texts(key) for needed, key in ctx.hooks.help_sections if Role.NONE < needed <= role]
    ctx.out.send(person.chat_id, "\n\n".join(parts), if_unreachable=not_told)
    ctx.out.set_commands(user_id, command_menu(ctx.hooks, texts, role))


async def on_revoke(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Takes a user's role away (owners only)."""
    parts = command.args.split()
    if len(parts) != 1:
        ctx.out.send(event.chat_id, ctx.texts("revoke_usage"))
        return
    user_id = await resolve_person(ctx, event.chat_id, parts[0], "unknown_user")
    if user_id is None:
        return
    who = await describe_user(ctx, user_id)
    if user_id in ctx.config.admin_ids:
        ctx.out.send(event.chat_id, ctx.texts("owner_is_fixed", who=who))
    elif await ctx.store.staff.revoke(user_id):
        # Their reply mode and the conversations they opened with respondents end now.
        await ctx.store.cases.close_for_staff(user_id, ctx.config.alert_chats)
        ctx.out.send(event.chat_id, ctx.texts("revoked", who=who))
        ctx.out.set_commands(user_id, [])  # back to the respondent's menu
    else:
        ctx.out.send(event.chat_id, ctx.texts("not_staff", who=who))


async def on_staff(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Lists owners and everyone with a role (owners only)."""
    lines = [ctx.texts("staff_list_title")]
    for owner_id in sorted(ctx.config.admin_ids):
        lines.append(ctx.texts("staff_owner_line", who=await describe_user(ctx, owner_id)))
    for member in await ctx.store.staff.all():
        role = ctx.texts.plain(f"role_{member.role}")
        who = await describe_user(ctx, member.user_id)
        lines.append(ctx.texts("staff_member_line", role=role, who=who))
    unreachable = await alerts.unreachable_targets(ctx)
    if unreachable:
        lines += ["", ctx.texts("staff_unreachable_title")]
    for chat_id, reason, waiting in unreachable:
        who = (
            await describe_user(ctx, chat_id)
            if chat_id > 0
            else ctx.texts.plain("staff_alert_chat").format(chat=chat_id)
        )
        lines.append(
            ctx.texts(
                "staff_unreachable_line", who=who, reason=ctx.texts.plain(reason), count=waiting
            )
        )
    ctx.out.send(event.chat_id, "\n".join(lines))
