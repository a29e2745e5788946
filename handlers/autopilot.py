"""`/autopilot`: relationship surveys that ask everyone again every N days or months.

`/autopilot <survey> every <N> days|months [segment]` switches a survey's schedule on (or
changes it), `/autopilot` lists the schedules, `/autopilot off <survey>` stops one. The
segment is /broadcast's (handlers/audience.py). Nothing is sent from here: the job in
bot/autopilot.py runs each schedule on weekday mornings (nps/schedule.py) and the
broadcast workers send.
"""

from __future__ import annotations

from handlers.audience import SegmentError, describe_segment, parse_segment
from handlers.broadcast import SEGMENT_EXAMPLES, fatigue_of
from handlers.broadcast_messages import number, segment_label
from handlers.context import UpdateContext
from handlers.events import Command, IncomingMessage
from handlers.kinds import is_anonymous
from handlers.texts import TextsLike
from nps.schedule import (
    DAYS,
    MAX_COUNT,
    MONTHS,
    WINDOW_END,
    WINDOW_START,
    Interval,
    next_run,
    workdays_in,
)
from storage.repos.autopilot import LastRun, Schedule, daily_quota
from storage.repos.surveys import SurveyView

UNIT_WORDS = {"day": DAYS, "days": DAYS, "month": MONTHS, "months": MONTHS}
EXAMPLE = "/autopilot nps every 3 months"


async def _active_slugs(ctx: UpdateContext) -> str:
    surveys = await ctx.store.surveys.all()
    return ", ".join(s.slug for s in surveys if s.active) or "—"


async def on_autopilot(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Lists, switches on, changes or stops relationship surveys on autopilot."""
    words = command.args.split()
    if not words:
        await _list(event, ctx)
    elif words[0].lower() == "off":
        await _turn_off(event, words[1:], ctx)
    else:
        await _switch_on(event, words[0], words[1:], ctx)


async def _usage(event: IncomingMessage, ctx: UpdateContext) -> None:
    surveys = await _active_slugs(ctx)
    ctx.out.send(event.chat_id, ctx.texts("ap_usage", surveys=surveys, segments=SEGMENT_EXAMPLES))


def _interval_text(texts: TextsLike, interval: Interval) -> str:
    """ "3 months", "1 day"."""
    key = "ap_every_days" if interval.unit == DAYS else "ap_every_months"
    return texts.plain(key, n=interval.count)


def _next_run(ctx: UpdateContext, schedule: Schedule) -> str:
    """When the schedule runs next, local ("now" while today's run is due)."""
    moment = next_run(ctx.now, ctx.store.stats.tz, schedule.last_run_on)
    if moment <= ctx.now:
        return ctx.texts.plain("ap_now")
    return moment.strftime("%Y-%m-%d %H:%M")


def _window(ctx: UpdateContext) -> dict[str, str]:
    return {
        "start": WINDOW_START.strftime("%H:%M"),
        "end": WINDOW_END.strftime("%H:%M"),
        "tz": str(ctx.store.stats.tz),
    }


async def _switch_on(
    event: IncomingMessage, slug: str, words: list[str], ctx: UpdateContext
) -> None:
    texts = ctx.texts
    if len(words) < 3 or words[0].lower() != "every":
        await _usage(event, ctx)
        return
    survey = await ctx.store.surveys.by_slug(slug)
    if survey is None or not survey.active:
        ctx.out.send(
            event.chat_id, texts("ap_unknown_survey", slug=slug, surveys=await _active_slugs(ctx))
        )
        return
    if is_anonymous(survey.kind):
        # Each autopilot message is a broadcast's: tied to a person, which eNPS must not be.
        ctx.out.send(event.chat_id, texts("ap_enps_refused", slug=slug))
        return
    count, unit_word = words[1], words[2]
    unit = UNIT_WORDS.get(unit_word.lower())
    if unit is None:
        ctx.out.send(event.chat_id, texts("ap_bad_unit", unit=unit_word, slug=slug))
        return
    if not count.isdigit() or not 1 <= int(count) <= MAX_COUNT[unit]:
        ctx.out.send(
            event.chat_id,
            texts(
                "ap_bad_interval",
                count=count,
                slug=slug,
                max_days=MAX_COUNT[DAYS],
                max_months=MAX_COUNT[MONTHS],
            ),
        )
        return
    try:
        segment = parse_segment(" ".join(words[3:]))
    except SegmentError as exc:
        ctx.out.send(
            event.chat_id,
            texts("ap_bad_segment", term=exc.term, slug=slug, segments=SEGMENT_EXAMPLES),
        )
        return
    interval = Interval(int(count), unit)
    segment_text = describe_segment(segment)
    created = await ctx.store.autopilot.save(
        survey_id=survey.id,
        every=interval.count,
        unit=interval.unit,
        segment=segment_text,
        by=event.sender.id,
        now=ctx.now,
    )
    schedule = await ctx.store.autopilot.of_survey(survey.id)
    assert schedule is not None  # saved just now
    await _confirm(event, ctx, survey, schedule, interval, created=created)


async def _confirm(
    event: IncomingMessage,
    ctx: UpdateContext,
    survey: SurveyView,
    schedule: Schedule,
    interval: Interval,
    *,
    created: bool,
) -> None:
    """What the schedule does, how many are due now, and when it runs next."""
    texts = ctx.texts
    tz = ctx.store.stats.tz
    fatigue = fatigue_of(ctx)
    counts = await ctx.store.autopilot.count_due(
        survey.id,
        parse_segment(schedule.segment),
        cutoff=interval.before(ctx.now, tz),
        fatigue=fatigue,
        now=ctx.now,
        owners=ctx.config.admin_ids,
        autopilot_id=schedule.id,
    )
    # A whole morning's worth at BROADCAST_RATE: the share of one day, as the job takes it.
    morning = (WINDOW_END.hour - WINDOW_START.hour) * 3600
    per_day = daily_quota(
        counts.audience,
        workdays_in(interval, ctx.now, tz),
        int(ctx.config.broadcast_rate * morning),
    )
    every = _interval_text(texts, interval)
    lines = [
        texts(
            "ap_on" if created else "ap_changed",
            survey=survey.name,
            slug=survey.slug,
            every=every,
            segment=segment_label(texts, schedule.segment),
        ),
        texts("ap_how", every=every, per_day=number(texts, per_day), **_window(ctx)),
        texts(
            "ap_due_now",
            due=number(texts, counts.due),
            audience=number(texts, counts.audience),
            next=_next_run(ctx, schedule),
        ),
    ]
    if fatigue.survey_days > (ctx.now - interval.before(ctx.now, tz)).days:
        # The fatigue rule wins: nobody gets the same survey again within it.
        lines.append(texts("ap_cooldown_longer", days=fatigue.survey_days))
    ctx.out.send(event.chat_id, "\n".join(lines))


async def _turn_off(event: IncomingMessage, words: list[str], ctx: UpdateContext) -> None:
    texts = ctx.texts
    if len(words) != 1:
        await _usage(event, ctx)
        return
    slug = words[0]
    survey = await ctx.store.surveys.by_slug(slug)
    if survey is None or not await ctx.store.autopilot.turn_off(survey.id, event.sender.id):
        ctx.out.send(event.chat_id, texts("ap_not_on", slug=slug))
        return
    ctx.out.send(event.chat_id, texts("ap_off", survey=survey.name, slug=survey.slug))


async def _list(event: IncomingMessage, ctx: UpdateContext) -> None:
    texts = ctx.texts
    schedules = await ctx.store.autopilot.active()
    if not schedules:
        ctx.out.send(event.chat_id, texts("ap_none", example=EXAMPLE))
        return
    runs = await ctx.store.autopilot.last_runs([s.id for s in schedules])
    lines = [texts("ap_list_title", **_window(ctx))]
    for schedule in schedules:
        survey = await ctx.store.surveys.get(schedule.survey_id)
        assert survey is not None  # foreign key; surveys are never deleted
        lines.append(_list_line(ctx, survey, schedule, runs.get(schedule.id)))
    ctx.out.send(event.chat_id, "\n".join(lines))


def _list_line(
    ctx: UpdateContext, survey: SurveyView, schedule: Schedule, run: LastRun | None
) -> str:
    """One schedule: survey, interval, segment, next run, and what the last run sent."""
    texts = ctx.texts
    interval = Interval(schedule.every, schedule.unit)
    head = texts(
        "ap_list_line",
        slug=survey.slug,
        every=_interval_text(texts, interval),
        segment=segment_label(texts, schedule.segment),
    )
    if not survey.active:
        return f"{head}\n{texts('ap_survey_inactive')}"
    parts = [texts("ap_next", next=_next_run(ctx, schedule))]
    if run is None:
        parts.append(texts("ap_never_run"))
    elif run.remaining:
        parts.append(
            texts(
                "ap_last_sending",
                day=run.day.isoformat(),
                sent=number(texts, run.sent),
                remaining=number(texts, run.remaining),
            )
        )
    else:
        parts.append(
            texts(
                "ap_last_run",
                day=run.day.isoformat(),
                sent=number(texts, run.sent),
                due=number(texts, run.due),
            )
        )
    return f"{head}\n   " + " · ".join(parts)
