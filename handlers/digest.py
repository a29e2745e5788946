"""`/digest on|off`: team members choose whether they get the daily digest."""

from __future__ import annotations

from handlers.context import Context
from handlers.events import Command, Message


async def on_digest(event: Message, command: Command, ctx: Context) -> None:
    """Turns the daily digest on or off for a team member, or says whether it is on."""
    choice = command.args.strip().lower()
    if choice not in ("", "on", "off"):
        ctx.out.send(event.chat_id, ctx.texts("digest_usage"))
        return
    user_id = event.sender.id
    if user_id in ctx.config.admin_ids:
        # Owners come from the settings, so there is no row to switch: they always get it.
        ctx.out.send(event.chat_id, ctx.texts("digest_owner"))
        return
    if not choice:
        subscribed = user_id in await ctx.store.staff.digest_subscribers()
        ctx.out.send(event.chat_id, ctx.texts("digest_is_on" if subscribed else "digest_is_off"))
        return
    # The router let only viewers and up in, so the staff row exists.
    await ctx.store.staff.set_digest(user_id, choice == "on")
    ctx.out.send(
        event.chat_id, ctx.texts("digest_turned_on" if choice == "on" else "digest_turned_off")
    )
