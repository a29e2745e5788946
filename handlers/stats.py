"""`/nps`: the live score with its margin, the change, and tables per segment."""

from __future__ import annotations

from handlers.compare import is_compare, on_compare
from handlers.context import UpdateContext
from handlers.events import Command, IncomingMessage
from handlers.report_kinds import wrong_kind_pointer
from nps.nps_report import build_report, build_segments, render_report, render_segments
from nps.scope import ArgumentError, ReportArgs, parse_report_args


async def report_args(
    event: IncomingMessage,
    command: Command,
    ctx: UpdateContext,
    *,
    options: dict[str, tuple[str, ...]] | None = None,
    allow_segment: bool = False,
    kind: str = "nps",
) -> ReportArgs | None:
    """Parses `[by X] [survey] [period] [option…]`, or explains the mistake and returns None;
    without a survey named, the scope is the surveys of `kind` (nps.scope.reportable)."""
    surveys = await ctx.store.surveys.all()
    today = ctx.now.astimezone(ctx.store.stats.tz).date()
    # Only "all" needs the first day with data; it costs a scan of the counters, so it is
    # not paid on every /nps.
    wants_all = "all" in command.args.lower().split()
    earliest = await ctx.store.stats.first_day([s.id for s in surveys]) if wants_all else None
    try:
        return parse_report_args(
            command.args,
            surveys,
            today=today,
            command=command.name,
            options=options,
            allow_segment=allow_segment,
            earliest=earliest,
            kind=kind,
        )
    except ArgumentError as exc:
        ctx.out.send(event.chat_id, ctx.texts(exc.key, **exc.values))
        return None


async def on_nps(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Shows the live NPS for a survey and period, or a table per segment with `by`."""
    if is_compare(command.args):  # `/nps compare A vs B …` (handlers/compare.py)
        await on_compare(event, command, ctx)
        return
    args = await report_args(event, command, ctx, allow_segment=True)
    if args is None:
        return
    # A CSAT or CES survey named here: its figures are not NPS (/csat, /ces show them).
    if (pointer := wrong_kind_pointer(args.scope, "nps")) is not None:
        ctx.out.send(event.chat_id, ctx.texts(pointer[0], **pointer[1]))
        return
    if args.segment is not None:
        rows = await build_segments(ctx.store, args.scope, args.segment)
        minimum = ctx.config.enps_min_group
        table = render_segments(rows, args.scope, args.segment, ctx.texts, min_group=minimum)
        ctx.out.send(event.chat_id, table)
        return
    report = await build_report(ctx.store, args.scope)
    extra: list[str] = []
    for add_lines in ctx.hooks.report_extras:
        extra.extend(await add_lines(ctx, args.scope))
    text = render_report(report, ctx.texts, extra, min_group=ctx.config.enps_min_group)
    ctx.out.send(event.chat_id, text)
