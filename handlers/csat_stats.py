"""`/csat` and `/ces`: the live CSAT (share of 4–5) or CES (mean score) with its interval,
the distribution, the change, and tables per segment — the /nps arguments and roles."""

from __future__ import annotations

from handlers.context import UpdateContext
from handlers.events import Command, IncomingMessage
from handlers.report_kinds import wrong_kind_pointer
from handlers.stats import report_args
from nps.csat_report import (
    build_kind_report,
    build_kind_segments,
    render_kind_report,
    render_kind_segments,
)
from nps.scales import CES, CSAT


async def _kind_report(
    event: IncomingMessage, command: Command, ctx: UpdateContext, kind: str
) -> None:
    """The report of one kind: its surveys by default, a named survey of that kind, `by X`."""
    args = await report_args(event, command, ctx, allow_segment=True, kind=kind)
    if args is None:
        return
    if (pointer := wrong_kind_pointer(args.scope, command.name)) is not None:
        ctx.out.send(event.chat_id, ctx.texts(pointer[0], **pointer[1]))
        return
    if not args.scope.surveys:
        # No survey of this kind yet: an empty report would look like a broken bot.
        ctx.out.send(event.chat_id, ctx.texts(f"{kind}_no_surveys"))
        return
    if args.segment is not None:
        rows = await build_kind_segments(ctx.store, args.scope, args.segment, kind)
        table = render_kind_segments(rows, args.scope, args.segment, kind, ctx.texts)
        ctx.out.send(event.chat_id, table)
        return
    report = await build_kind_report(ctx.store, args.scope, kind)
    ctx.out.send(event.chat_id, render_kind_report(report, ctx.texts))


async def on_csat(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Shows the live CSAT of the CSAT surveys (or one) in a period, or a table with `by`."""
    await _kind_report(event, command, ctx, CSAT)


async def on_ces(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Shows the live CES of the CES surveys (or one) in a period, or a table with `by`."""
    await _kind_report(event, command, ctx, CES)
