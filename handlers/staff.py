"""Owners grant and revoke the viewer and admin roles from the chat."""

from __future__ import annotations

from handlers.context import Context
from handlers.events import Command, Message

GRANTABLE = ("viewer", "admin")


async def describe_user(ctx: Context, user_id: int) -> str:
    """ "Anna (@anna · 123)" when the user talked to the bot, else the id."""
    respondent = await ctx.store.respondents.get(user_id)
    if respondent is None:
        return str(user_id)
    handle = f"@{respondent.username} · " if respondent.username else ""
    return f"{respondent.first_name or ''} ({handle}{user_id})".strip()


async def on_grant(event: Message, command: Command, ctx: Context) -> None:
    """Gives a user the viewer or admin role (owners only)."""
    parts = command.args.split()
    if len(parts) != 2 or parts[1].lower() not in GRANTABLE:
        ctx.out.send(event.chat_id, ctx.texts("grant_usage"))
        return
    user_id = await ctx.store.respondents.resolve(parts[0])
    if user_id is None:
        ctx.out.send(event.chat_id, ctx.texts("unknown_user", who=parts[0]))
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


async def on_revoke(event: Message, command: Command, ctx: Context) -> None:
    """Takes a user's role away (owners only)."""
    parts = command.args.split()
    if len(parts) != 1:
        ctx.out.send(event.chat_id, ctx.texts("revoke_usage"))
        return
    user_id = await ctx.store.respondents.resolve(parts[0])
    if user_id is None:
        ctx.out.send(event.chat_id, ctx.texts("unknown_user", who=parts[0]))
        return
    who = await describe_user(ctx, user_id)
    if user_id in ctx.config.admin_ids:
        ctx.out.send(event.chat_id, ctx.texts("owner_is_fixed", who=who))
    elif await ctx.store.staff.revoke(user_id):
        ctx.out.send(event.chat_id, ctx.texts("revoked", who=who))
    else:
        ctx.out.send(event.chat_id, ctx.texts("not_staff", who=who))


async def on_staff(event: Message, command: Command, ctx: Context) -> None:
    """Lists owners and everyone with a role (owners only)."""
    lines = [ctx.texts("staff_list_title")]
    for owner_id in sorted(ctx.config.admin_ids):
        lines.append(ctx.texts("staff_owner_line", who=await describe_user(ctx, owner_id)))
    for member in await ctx.store.staff.all():
        role = ctx.texts.plain(f"role_{member.role}")
        who = await describe_user(ctx, member.user_id)
        lines.append(ctx.texts("staff_member_line", role=role, who=who))
    ctx.out.send(event.chat_id, "\n".join(lines))
