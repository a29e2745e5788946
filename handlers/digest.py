"""`/digest on|off`: team members and owners choose whether they get the daily digest."""

from __future__ import annotations

from handlers.context import UpdateContext
from handlers.events import Command, IncomingMessage


async def on_digest(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Turns the daily digest on or off for a team member, or says whether it is on."""
    choice = command.args.strip().lower()
    if choice not in ("", "on", "off"):
        ctx.out.send(event.chat_id, ctx.texts("digest_usage"))
        return
    user_id = event.sender.id
    owner = user_id in ctx.config.admin_ids
    if not choice:
        if owner:  # owners get it unless they turned it off
            subscribed = user_id not in await ctx.store.staff.digest_optouts()
        else:
            subscribed = user_id in await ctx.store.staff.digest_subscribers()
        ctx.out.send(event.chat_id, ctx.texts("digest_is_on" if subscribed else "digest_is_off"))
        return
    if owner:
        # Owners come from the settings and have no staff row: their choice is kept apart.
        await ctx.store.staff.set_owner_digest(user_id, choice == "on")
    else:
        # The router let only viewers and up in, so the staff row exists.
        await ctx.store.staff.set_digest(user_id, choice == "on")
    ctx.out.send(
        event.chat_id, ctx.texts("digest_turned_on" if choice == "on" else "digest_turned_off")
    )
