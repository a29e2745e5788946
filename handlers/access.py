"""Who may do what: owners (ADMIN_IDS) grant viewer and admin roles stored in the database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers.context import UpdateContext
from handlers.roles import Role
from handlers.texts import TextsLike

if TYPE_CHECKING:
    from handlers.context import Hooks


async def role_of(ctx: UpdateContext, user_id: int) -> Role:
    """The user's role: owner from settings, else the granted one, else none."""
    if user_id in ctx.config.admin_ids:
        return Role.OWNER
    granted = await ctx.store.staff.role_of(user_id)
    return Role[granted.upper()] if granted else Role.NONE


def command_menu(hooks: Hooks, texts: TextsLike, role: Role) -> list[tuple[str, str]]:
    """Telegram's command menu for a role: (command, description) pairs."""
    menu = []
    for name in hooks.menu(role):
        try:
            menu.append((name, texts.plain(f"cmd_{name}")))
        except KeyError:  # a command without a menu description (cmd_<name>) stays out
            continue
    return menu


def refusal_key(have: Role, needed: Role, *, button: bool = False) -> str:
    """The catalog key that refuses a command (or button) to someone below its role.

    Team members are told which role it needs and which they have; anyone else gets a
    neutral line that does not hint at a team or its commands.
    """
    if have == Role.NONE:
        return "not_permitted"
    if button:
        return "button_needs_admin" if needed == Role.ADMIN else "not_permitted"
    return f"needs_{needed.name.lower()}_{have.name.lower()}"


async def refresh_menu(ctx: UpdateContext, user_id: int, chat_id: int) -> None:
    """Puts a team member's commands in their menu when they press Start: someone given
    a role before they ever wrote to the bot could not have a chat menu until now.

    The role /start's own look-up read in this transaction is reused (no second query).
    """
    if user_id not in ctx.config.admin_ids and user_id in ctx.known_roles:
        granted = ctx.known_roles[user_id]
        role = Role[granted.upper()] if granted else Role.NONE
    else:
        role = await role_of(ctx, user_id)
    if role > Role.NONE:
        ctx.out.set_commands(chat_id, command_menu(ctx.hooks, ctx.texts, role))
