"""`/nps compare <A> vs <B> [survey] [period]`: two groups' NPS, the difference with its
95 % interval, and whether it is significant, in plain words."""

from __future__ import annotations

from handlers.context import UpdateContext
from handlers.events import Command, IncomingMessage
from handlers.report_kinds import wrong_kind_pointer
from nps.compare_args import parse_compare_args
from nps.compare_report import build_comparison, render_comparison
from nps.scope import ArgumentError


def is_compare(args: str) -> bool:
    """True when /nps was given `compare …`."""
    words = args.split(maxsplit=1)
    return bool(words) and words[0].lower() == "compare"


async def on_compare(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Compares two segments' or two periods' NPS (the /nps role, checked by the router)."""
    rest = command.args.split(maxsplit=1)[1:] or [""]
    surveys = await ctx.store.surveys.all()
    today = ctx.now.astimezone(ctx.store.stats.tz).date()
    # Only "all" needs the first day with data (a scan of the counters).
    wants_all = "all" in rest[0].lower().split()
    earliest = await ctx.store.stats.first_day([s.id for s in surveys]) if wants_all else None
    try:
        args = parse_compare_args(rest[0], surveys, today=today, earliest=earliest)
    except ArgumentError as exc:
        ctx.out.send(event.chat_id, ctx.texts(exc.key, **exc.values))
        return
    for side in (args.a, args.b):
        # A CSAT or CES survey named here: its figures are not NPS (/csat, /ces).
        if (pointer := wrong_kind_pointer(side.scope, "nps")) is not None:
            ctx.out.send(event.chat_id, ctx.texts(pointer[0], **pointer[1]))
            return
    result = await build_comparison(ctx.store, args)
    text = render_comparison(args, result, ctx.texts, min_group=ctx.config.enps_min_group)
    ctx.out.send(event.chat_id, text)
