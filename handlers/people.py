"""Who staff mean when they type a person: a Telegram id, or an @username.

Telegram gives a dropped username to someone else, so two people the bot has seen may
have used the same one. Commands that act on a person (/grant, /revoke, /forget) never
guess: they list the candidates and ask for the id.
"""

from __future__ import annotations

from handlers.context import UpdateContext
from storage.repos.respondents import Person


def _last_seen(ctx: UpdateContext, person: Person) -> str:
    seen = person.last_seen_at
    return seen.astimezone(ctx.store.stats.tz).date().isoformat() if seen else "—"


async def resolve_person(
    ctx: UpdateContext, chat_id: int, who: str, unknown_key: str
) -> int | None:
    """The user id `who` names; else says why not in the chat (unknown, or ambiguous) and
    returns None. `unknown_key` is the caller's catalog text for a name nobody has."""
    who = who.strip()
    if who.lstrip("-").isdigit():
        return int(who)
    named = await ctx.store.respondents.named(who[1:]) if who.startswith("@") else []
    # Staff act on Telegram accounts (/grant, /revoke, /forget take a Telegram id).
    named = [person for person in named if person.telegram_id is not None]
    if len(named) == 1:
        return named[0].telegram_id
    if not named:
        ctx.out.send(chat_id, ctx.texts(unknown_key, who=who))
        return None
    lines = [ctx.texts("people_ambiguous", who=who)]
    lines += [
        ctx.texts(
            "people_candidate",
            name=person.first_name or "—",
            id=person.telegram_id,
            seen=_last_seen(ctx, person),
        )
        for person in named
    ]
    lines.append(ctx.texts("people_use_id"))
    ctx.out.send(chat_id, "\n".join(lines))
    return None
