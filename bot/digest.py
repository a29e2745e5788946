"""The daily digest: yesterday's NPS, the last 30 days and new detractor comments.

Sent every day at DIGEST_TIME (local, TIMEZONE) to the owners and to the team members who
opted in with `/digest on`. Delivery rules:

* **Never twice.** Each recipient's digest for a day is claimed by inserting its
  `digest_deliveries` row, committed *before* the message is sent. The (day, user_id)
  primary key lets exactly one replica (or one run of a restarted bot) win the claim.
  Claim-then-send is deliberate: sending inside the claiming transaction would hold a
  database lock across a network call (SQLite's single writer would stall every update for
  the length of a 429 wait), and a crash in the short window between the commit and the
  send costs one recipient one digest, while the other order would risk duplicates.
* **Never skipped while the bot is up.** The job checks at start: when today's digest time
  has passed and a recipient has no delivery for today, it is sent at once.
* **One blocked recipient does not stop the others.** Each message goes through
  `Pipeline.deliver` on its own: 403 marks that user unreachable and the loop goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

from bot.theme_job import refresh_due
from handlers.comments import default_surveys
from handlers.port import ChatPort, Outbox
from handlers.theme_labels import change_mark, label
from nps.anonymity import DEFAULT_MIN_GROUP, anonymous_scope, too_few
from nps.cases_text import cases_text
from nps.csat_math import CesSummary, CsatSummary, summarize_ces, summarize_csat
from nps.nps_math import (
    Group,
    NpsSummary,
    format_average,
    format_margin,
    format_nps,
    format_pct,
)
from nps.nps_report import NpsReport, Texts, build_report, describe_period, number, shorten
from nps.periods import DEFAULT_DAYS, Period
from nps.scale_text import SCALED_KINDS, score_text
from nps.scales import CSAT, SCALES
from nps.scope import Scope, reportable
from nps.theme_index import dictionary
from nps.theme_report import ThemeCount, top_themes
from storage.repos.digests import DetractorComment
from storage.repos.surveys import SurveyView
from storage.store import Store

if TYPE_CHECKING:
    from bot.jobs import JobHost

log = logging.getLogger(__name__)

# At most this long between checks, so a changed system clock or a DST switch is noticed
# within a minute even though the job otherwise sleeps until the next due time.
MAX_WAIT = 60.0
# Never spin: a computed delay of zero (clock at the due instant) still yields this long.
MIN_WAIT = 0.05
# Telegram's limit for a message's text (UTF-16 code units after entity parsing).
MESSAGE_LIMIT = 4096
# More comments than this never fit in one message, so no more are read.
COMMENTS_FETCHED = 60
# One long comment must not crowd out the others.
COMMENT_CHARS = 300


@dataclass(frozen=True)
class ScaleFigure:
    """One CSAT or CES survey's figure over the digest's 30 days."""

    kind: str
    survey: str
    summary: CsatSummary | CesSummary


@dataclass(frozen=True)
class DigestData:
    """What one day's digest shows, computed once and rendered per recipient language."""

    day: date  # the local day the digest is sent on; it reports on the day before
    scope: Scope
    yesterday: NpsReport
    month: NpsReport
    comments: list[DetractorComment]
    comments_total: int
    tz: tzinfo
    # Detractor cases opened in the 30 days: {"open": n, "resolved": n}.
    cases: dict[str, int] = field(default_factory=lambda: {"open": 0, "resolved": 0})
    # eNPS anonymity threshold (ENPS_MIN_GROUP): no figure or comment of fewer answers.
    min_group: int = DEFAULT_MIN_GROUP
    # The week's detractor answers and their most mentioned themes (issue 15).
    week_detractors: int = 0
    themes: tuple[ThemeCount, ...] = ()
    # The CSAT and CES surveys with answers in the 30 days: a line each, never in the NPS.
    scales: tuple[ScaleFigure, ...] = ()

    @property
    def anonymous(self) -> bool:
        """True when the digest reports on eNPS answers."""
        return anonymous_scope(self.scope)

    def hidden(self, n: int) -> bool:
        """True when a figure of `n` answers must be withheld to keep them anonymous."""
        return too_few(n, self.anonymous, self.min_group)


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The moment a local day starts (aware)."""
    return datetime.combine(day, time(0), tzinfo=tz)


def due_day(now: datetime, at: time, tz: tzinfo) -> date | None:
    """Today's local date when today's digest time has passed, else None."""
    local = now.astimezone(tz)
    # Comparing wall-clock times makes a digest time inside a DST gap (02:30 on the night
    # clocks jump from 02:00 to 03:00) due at 03:00 instead of never.
    return local.date() if local.time() >= at else None


def seconds_until_next_check(now: datetime, at: time, tz: tzinfo, done: date | None) -> float:
    """How long to sleep: until the next digest time, but at most MAX_WAIT."""
    local = now.astimezone(tz)
    today = local.date()
    day = today if local.time() < at and done != today else today + timedelta(days=1)
    target = datetime.combine(day, at, tzinfo=tz)
    return min(MAX_WAIT, max(MIN_WAIT, (target - now).total_seconds()))


async def digest_job(app: JobHost, port: ChatPort) -> None:
    """Runs until cancelled: sends each day's digest once its time has come."""
    at = app.settings.digest_at
    if at is None:
        return
    tz = app.settings.tz
    done: date | None = None  # the last day every recipient was handled (in this process)
    while True:
        day = due_day(app.clock(), at, tz)
        if day is not None and day != done and await send_digests(app, port, day):
            done = day
        await asyncio.sleep(seconds_until_next_check(app.clock(), at, tz, done))


async def recipients(app: JobHost) -> list[tuple[int, str]]:
    """(user id, language) of everyone who gets the digest: owners (unless they turned it
    off) and opted-in staff."""
    catalogs = app.catalogs
    async with app.db.snapshot() as store:
        owners = set(app.settings.admin_ids) - await store.staff.digest_optouts()
        users = sorted(owners | set(await store.staff.digest_subscribers()))
        found = []
        for user_id in users:
            respondent = await store.respondents.by_telegram(user_id)
            if respondent is None:
                found.append((user_id, catalogs.default))
            elif not respondent.unreachable:
                # Someone who blocked the bot is skipped until they unblock it (that update
                # marks them reachable again): a 403 a day helps nobody.
                language = catalogs.resolve(
                    respondent.language_override, respondent.telegram_language
                )
                found.append((user_id, language))
        return found


async def gather(app: JobHost, day: date) -> DigestData:
    """Reads the figures and comments of the digest sent on `day`, in one snapshot."""
    tz = app.settings.tz
    yesterday = day - timedelta(days=1)
    try:
        await refresh_due(app)  # the answers' themes, current before they are counted
    except Exception:
        log.exception("could not bring the themes up to date for the digest")
    async with app.db.snapshot() as store:
        surveys = await store.surveys.all()
        default = reportable(surveys)  # what /nps covers without a survey named
        one_day = Scope(default, Period(yesterday, yesterday), True, False)
        month_period = Period(yesterday - timedelta(days=DEFAULT_DAYS - 1), yesterday)
        month = Scope(default, month_period, True, True)
        day_report = await build_report(store, one_day)
        month_report = await build_report(store, month)
        # The low comments of the CSAT and CES surveys too (on their own scales), as
        # /comments lists them without a survey named.
        commented = [s.id for s in default_surveys(surveys)]
        comments, total = await store.digests.detractor_comments(
            commented,
            local_midnight(yesterday, tz),
            local_midnight(day, tz),
            limit=COMMENTS_FETCHED,
            # CSAT 1–2 and CES 1–3 are their surveys' detractors.
            low_to={kind: scale.low_to for kind, scale in SCALES.items()},
        )
        scales = await scale_figures(store, surveys, month_period)
        cases = await store.cases.counts(month.survey_ids, *month_period.bounds(tz))
        week = Scope(default, Period(yesterday - timedelta(days=6), yesterday), True, False)
        detractors, themes = await top_themes(
            store,
            await dictionary(store, app.clock(), seed=False),
            week,
            tz,
            group=Group.DETRACTOR,
        )
    return DigestData(
        day,
        month,
        day_report,
        month_report,
        comments,
        total,
        tz,
        cases,
        app.settings.enps_min_group,
        detractors,
        tuple(themes),
        scales,
    )


async def scale_figures(
    store: Store, surveys: Sequence[SurveyView], period: Period
) -> tuple[ScaleFigure, ...]:
    """CSAT (share of 4–5, Wilson interval) and CES (mean, t interval) of each survey of
    those kinds with answers in the period, by name."""
    chosen = sorted((s for s in surveys if s.kind in SCALED_KINDS), key=lambda s: s.name.lower())
    if not chosen:
        return ()
    counts = await store.stats.totals_by_survey([s.id for s in chosen], period.start, period.end)
    figures = []
    for survey in chosen:
        histogram = tuple((counts.get(survey.id) or (0,) * 12)[1:])
        summary = summarize_csat(histogram) if survey.kind == CSAT else summarize_ces(histogram)
        if summary.n:
            figures.append(ScaleFigure(survey.kind, survey.name, summary))
    return tuple(figures)


async def send_digests(app: JobHost, port: ChatPort, day: date) -> bool:
    """Sends the day's digest to every recipient not served yet; True when all were tried."""
    try:
        people = await recipients(app)
        async with app.db.snapshot() as store:
            served = await store.digests.delivered(day)
        people = [(user_id, language) for user_id, language in people if user_id not in served]
        if not people:
            return True
        data = await gather(app, day)
    except Exception:
        log.exception("could not prepare the digest for %s; retrying shortly", day)
        return False
    complete = True
    for user_id, language in people:
        try:
            # Rendered before the claim, so a rendering bug cannot use up a claim.
            html = render_digest(data, app.catalogs.texts(language))
            async with app.db.transaction() as store:
                if not await store.digests.claim(day, user_id, app.clock()):
                    continue  # another replica (or an earlier run) has it
            outbox = Outbox()
            outbox.send(user_id, html)
            await app.pipeline.deliver(outbox, port)
        except asyncio.CancelledError:
            raise
        except Exception:
            # One recipient's failure (a database hiccup, an unexpected API error) must not
            # keep the digest from the others; unclaimed ones are retried at the next check.
            log.exception("digest for %s to %s failed", day, user_id)
            complete = False
    log.info("digest for %s handled for %d recipient(s)", day, len(people))
    return complete


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _score_line(key: str, summary: NpsSummary, texts: Texts, **values: str) -> str:
    line = texts(
        key,
        nps=format_nps(summary.nps),
        margin=format_margin(summary.margin),
        n=number(summary.n),
        **values,
    )
    return f"{line} · {texts('digest_too_few')}" if summary.too_small else line


def render_figures(data: DigestData, texts: Texts) -> list[str]:
    """The title, yesterday's score and the 30 days' score with its change."""
    if len(data.scope.surveys) == 1:
        surveys = data.scope.surveys[0].name
    else:
        surveys = texts.plain("all_surveys")
    lines = [
        texts("digest_title", day=describe_period(data.yesterday.scope.period, texts)),
        texts("digest_scope", surveys=surveys),
        "",
    ]
    day = data.yesterday.current.summary
    hidden = texts.plain("enps_hidden", min=data.min_group)
    range_text = describe_period(data.month.scope.period, texts)
    month = data.month.current.summary
    if data.hidden(day.n):
        lines.append(texts("digest_day_hidden", hidden=hidden))
    elif day.n:
        lines.append(_score_line("digest_day_line", day, texts))
        lines.append(
            texts(
                "digest_groups",
                promoters=number(day.promoters),
                passives=number(day.passives),
                detractors=number(day.detractors),
            )
        )
    else:
        lines.append(texts("digest_day_none"))
    before = data.month.before.summary
    if data.hidden(month.n):
        lines.append(texts("digest_month_hidden", range=range_text, hidden=hidden))
    elif month.n:
        lines.append(_score_line("digest_month_line", month, texts, range=range_text))
    else:
        lines.append(texts("digest_month_none", range=range_text))
    if data.hidden(before.n) and not data.hidden(month.n):
        lines.append(texts("digest_change_hidden", hidden=hidden))
    elif not before.n:
        lines.append(texts("digest_change_none"))
    elif month.n and not data.hidden(month.n):
        delta = data.month.change.delta or 0.0
        lines.append(
            texts(
                "digest_change_line",
                before=format_nps(before.nps),
                now=format_nps(month.nps),
                arrow="▲" if delta > 0.5 else "▼" if delta < -0.5 else "=",
                delta=format_margin(delta),
                verdict=texts.plain(
                    "significant" if data.month.change.significant else "not_significant"
                ),
            )
        )
    if data.scales:
        lines.append(texts("digest_scales_title", range=range_text))
        lines.extend(scale_line(figure, texts) for figure in data.scales)
    # Cases are detractors too: no count of them where the figures are withheld.
    if (data.cases["open"] or data.cases["resolved"]) and not data.hidden(month.n):
        lines.append(cases_text(texts, data.cases["open"], data.cases["resolved"]))
    if data.themes and not data.hidden(data.week_detractors):
        lines.append(texts("th_digest_line", themes=theme_counts(data.themes, texts)))
    return lines


def scale_line(figure: ScaleFigure, texts: Texts) -> str:
    """ "CSAT · Checkout: 82% (±6) · 120 answers", "CES · Support: 5.6 (5.3–5.9) · 48 answers"."""
    s = figure.summary
    if isinstance(s, CsatSummary):
        line = texts(
            "digest_csat_line",
            survey=figure.survey,
            figure=format_pct(s.csat),
            margin=format_margin(s.margin),
            n=number(s.n),
        )
    elif s.low is None or s.high is None:  # one CES answer: no interval
        line = texts(
            "digest_ces_line_single", survey=figure.survey, figure=format_average(s.ces), n="1"
        )
    else:
        line = texts(
            "digest_ces_line",
            survey=figure.survey,
            figure=format_average(s.ces),
            low=format_average(s.low),
            high=format_average(s.high),
            n=number(s.n),
        )
    return f"{line} · {texts('digest_too_few')}" if s.too_small else line


def theme_counts(themes: tuple[ThemeCount, ...], texts: Texts) -> str:
    """ "Delivery ×12 ▲5 · Price ×4 =" (plain text; the catalog escapes it)."""
    return " · ".join(
        f"{label(theme.key, texts)} ×{theme.mentions} {change_mark(theme.change)}"
        for theme in themes
    )


def render_comment(
    comment: DetractorComment,
    texts: Texts,
    tz: tzinfo,
    *,
    with_survey: bool = True,
    day_only: bool = False,
) -> str:
    """One detractor comment: score, where it came from, why and what to improve."""
    context = [texts("digest_context_survey", survey=comment.survey)] if with_survey else []
    if comment.agent:
        context.append(texts("digest_context_agent", agent=comment.agent))
    if comment.source:
        context.append(texts("digest_context_source", source=comment.source))
    if not day_only:  # an anonymous answer keeps no time of day (it is yesterday's)
        context.append(comment.scored_at.astimezone(tz).strftime("%H:%M"))
    # Each part is HTML already (escaped by texts), so they are joined, not re-templated.
    score = score_text(comment.kind, comment.score, texts)  # "2 of 5 ⭐" on CSAT
    lines = [f"🔴 {score} · " + " · ".join(context)]
    if comment.why:
        lines.append(texts("digest_why", text=shorten(comment.why, COMMENT_CHARS)))
    if comment.improve:
        lines.append(texts("digest_improve", text=shorten(comment.improve, COMMENT_CHARS)))
    return "\n".join(lines)


def render_digest(data: DigestData, texts: Texts) -> str:
    """The digest message (HTML), never longer than Telegram accepts."""
    head = "\n".join(render_figures(data, texts))
    if data.comments_total and data.hidden(data.yesterday.current.summary.n):
        hidden = texts.plain("enps_hidden", min=data.min_group)
        return f"{head}\n\n{texts('digest_comments_hidden', hidden=hidden)}"
    if not data.comments_total:
        return f"{head}\n\n{texts('digest_comments_none')}"
    text = f"{head}\n\n{texts('digest_comments_title', count=number(data.comments_total))}"
    # Room for the "…and N more" line whatever N turns out to be.
    # A CSAT or CES comment names its survey even beside a single NPS survey.
    several = len(data.scope.surveys) > 1 or any(c.kind in SCALED_KINDS for c in data.comments)
    reserve = utf16_len("\n" + texts("digest_more", count=number(data.comments_total)))
    shown = 0
    for comment in data.comments:
        block = "\n\n" + render_comment(
            comment, texts, data.tz, with_survey=several, day_only=data.anonymous
        )
        if utf16_len(text) + utf16_len(block) + reserve > MESSAGE_LIMIT:
            break
        text += block
        shown += 1
    if shown < data.comments_total:
        text += "\n" + texts("digest_more", count=number(data.comments_total - shown))
    return text
