"""`/comments`: the latest "why" and "improve" answers, five a page, turned with ◀ / ▶."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Sequence
from datetime import datetime

from handlers.attribute_line import attribute_line
from handlers.callbacks import CommentsPage, ThemeCommentsPage, pack
from handlers.context import UpdateContext
from handlers.events import ButtonPress, Command, IncomingMessage
from handlers.port import Button, Keyboard
from handlers.stats import report_args
from handlers.texts import TextsLike
from handlers.theme_labels import UnknownTheme, take_theme
from handlers.theme_labels import label as theme_label
from nps.anonymity import anonymous_scope, too_few
from nps.nps_math import Group
from nps.nps_report import scope_title, shorten
from nps.periods import Period
from nps.scale_text import SCALED_KINDS, score_text
from nps.scales import scale_of
from nps.scope import Scope, reportable
from nps.theme_index import Dictionary, dictionary, refresh
from storage.admin_models import ANONYMOUS_KINDS
from storage.repos.comments import Comment
from storage.repos.surveys import SurveyView

PAGE_SIZE = 5
PREVIOUS, NEXT = "◀", "▶"
# What the user may type → the short code the page buttons carry.
GROUP_WORDS = {
    "promoters": "pro",
    "promoter": "pro",
    "passives": "pas",
    "passive": "pas",
    "detractors": "det",
    "detractor": "det",
}
# /comments also takes the CSAT and CES names of the groups (nps/scale_groups.py); each
# answer is still judged on its own survey's scale. /themes keeps GROUP_WORDS alone.
COMMENT_GROUP_WORDS = GROUP_WORDS | {
    "satisfied": "pro",
    "easy": "pro",
    "neutral": "pas",
    "dissatisfied": "det",
    "difficult": "det",
}
# A page's group code → the group the storage filters on (None: every answer).
GROUP_OF_CODE = {"all": None, "pro": "promoter", "pas": "passive", "det": "detractor"}
MARKS = {Group.PROMOTER: "🟢", Group.PASSIVE: "🟡", Group.DETRACTOR: "🔴"}
# An answer off its survey's scale (given before the survey changed kind) has no group.
NO_MARK = "⚪"
# Telegram's limit is 4096 characters after entity parsing (counted in UTF-16 units here,
# the stricter reading, so emoji never push a page over).
TEXT_LIMIT = 4096
# Characters of one comment in the listing, tried in turn until the page fits; the
# database and the exports keep every comment whole.
COMMENT_CAPS = (400, 250, 150, 80, 40)
SURVEY_NAME_CHARS = 60
_TAG = re.compile(r"<[^>]+>")


def visible_length(markup: str) -> int:
    """Length of the text Telegram shows for this HTML, in UTF-16 code units."""
    # Every "<" in our HTML opens a tag: values are escaped before they get in.
    plain = html.unescape(_TAG.sub("", markup))
    return len(plain.encode("utf-16-le")) // 2


def _when(moment: datetime, ctx: UpdateContext, *, day_only: bool = False) -> str:
    """ "22 Nov 14:03" in the team's time zone (with the year when it is not this one);
    "22 Nov" for an anonymous answer, whose time of day is not kept."""
    local = moment.astimezone(ctx.store.stats.tz)
    months = ctx.texts.plain("months").split()
    year = "" if local.year == ctx.now.astimezone(ctx.store.stats.tz).year else f" {local.year}"
    day = f"{local.day} {months[local.month - 1]}{year}"
    return day if day_only else f"{day} {local:%H:%M}"


def score_mark(kind: str, score: int) -> str:
    """🟢 / 🟡 / 🔴 by the group on the survey's own scale."""
    scale = scale_of(kind)
    return MARKS[scale.group(score)] if scale.contains(score) else NO_MARK


def _entry(comment: Comment, ctx: UpdateContext, cap: int, *, anonymous: bool = False) -> str:
    """One comment: score, date, survey and agent, the invitation's other attributes,
    then its texts (HTML)."""
    texts = ctx.texts
    head = [
        f"{score_mark(comment.kind, comment.score)} "
        + score_text(comment.kind, comment.score, texts),
        html.escape(_when(comment.scored_at, ctx, day_only=anonymous)),
        html.escape(shorten(comment.survey_name, SURVEY_NAME_CHARS)),
    ]
    if comment.agent:
        head.append(texts("comments_agent", agent=comment.agent))
    lines = [" · ".join(head)]
    if not anonymous:  # eNPS answers carry none; a tag could name the employee
        attributes = attribute_line(
            texts,
            agent=comment.agent,
            source=comment.source,
            campaign=comment.campaign,
            attributes=comment.attributes,
            skip=("agent",),  # in the first line
            limit=cap,
        )
        if attributes:
            lines.append(attributes)
    if comment.why and comment.why.strip():
        lines.append(texts("comments_why", text=shorten(comment.why, cap)))
    if comment.improve and comment.improve.strip():
        lines.append(texts("comments_improve", text=shorten(comment.improve, cap)))
    return "\n".join(lines)


def _title(scope: Scope, group: str, texts: TextsLike, theme: str | None = None) -> str:
    """The listing's bold first line (HTML)."""
    heading = scope_title(scope, texts)
    if theme is not None:
        # `/comments <theme>`: the theme's name leads the scope.
        heading = f"{theme_label(theme, texts)} · {heading}"
    if group == "all":
        return f"<b>{texts('comments_title', scope=heading)}</b>"
    label = group_label(scope, group, texts)
    return f"<b>{texts('comments_title_group', group=label, scope=heading)}</b>"


def group_label(scope: Scope, group: str, texts: TextsLike) -> str:
    """A group code's name for the scope ("Detractors (0–6)"); one CSAT or CES kind in
    scope: its own group names and scores ("Dissatisfied (1–2)")."""
    kinds = {s.kind for s in scope.surveys}
    if len(kinds) == 1 and (kind := kinds.pop()) in SCALED_KINDS:
        return texts.plain(f"comments_group_{kind}_{group}")
    return texts.plain(f"comments_group_{group}")


def default_surveys(surveys: Sequence[SurveyView]) -> tuple[SurveyView, ...]:
    """What `/comments` lists without a survey named: the /nps surveys and every CSAT and
    CES one (each answer judged on its own scale). When /nps falls back to eNPS surveys,
    no other survey joins them: their answers would count towards the anonymity threshold."""
    base = reportable(surveys)
    if any(s.kind in ANONYMOUS_KINDS for s in base):
        return base
    return base + tuple(s for s in surveys if s.kind in SCALED_KINDS)


async def render_page(
    ctx: UpdateContext, page: CommentsPage, scope: Scope, current: Dictionary | None = None
) -> tuple[str, Keyboard | None]:
    """The listing for one page and its ◀ / ▶ buttons (None when everything fits one page);
    `current`: the theme dictionary when the caller has read it already."""
    start, end = scope.period.bounds(ctx.store.stats.tz)
    group = GROUP_OF_CODE.get(page.group)
    anonymous = anonymous_scope(scope)
    theme: str | None = None
    if isinstance(page, ThemeCommentsPage):
        # Answers' themes brought up to date first, as /themes does.
        if current is None:
            current = await dictionary(ctx.store, ctx.now)
        await refresh(ctx.store, ctx.now, current=current)
        row = next((r for r in current.rows if r.id == page.theme_id and r.active), None)
        if row is None:
            return ctx.texts("th_comments_gone"), None
        theme = row.key
    if anonymous:
        # eNPS: no comment of a period with fewer answers than ENPS_MIN_GROUP (counted
        # whatever their comments: the group they hide in is everyone who answered).
        period = scope.period
        totals = await ctx.store.stats.totals(scope.survey_ids, period.start, period.end)
        answers = sum((totals.get("") or (0,))[1:])
        minimum = ctx.config.enps_min_group
        if too_few(answers, anonymous, minimum):
            title = _title(scope, page.group, ctx.texts, theme)
            return f"{title}\n{ctx.texts('enps_hidden', min=minimum)}", None

    async def fetch(offset: int) -> tuple[list[Comment], int]:
        found = await ctx.store.comments.latest(
            scope.survey_ids,
            start,
            end,
            group=group,
            offset=offset,
            limit=PAGE_SIZE,
            theme=theme,
        )
        return found.comments, found.total

    comments, total = await fetch(page.offset)
    if not comments and total:
        # An old or forged button points past the end (comments moved on since): show
        # the last page instead of an empty one.
        page = dataclasses.replace(page, offset=(total - 1) // PAGE_SIZE * PAGE_SIZE)
        comments, total = await fetch(page.offset)
    title = _title(scope, page.group, ctx.texts, theme)
    if not comments:
        return f"{title}\n{ctx.texts('comments_none')}", None
    summary = ctx.texts(
        "comments_range",
        first=page.offset + 1,
        last=page.offset + len(comments),
        total=total,
    )
    for cap in COMMENT_CAPS:
        body = "\n\n".join(_entry(c, ctx, cap, anonymous=anonymous) for c in comments)
        text = f"{title}\n{summary}\n\n{body}"
        if visible_length(text) <= TEXT_LIMIT:
            break
    buttons = []
    if page.offset > 0:
        back = max(0, page.offset - PAGE_SIZE)
        buttons.append(Button(PREVIOUS, pack(dataclasses.replace(page, offset=back))))
    if page.offset + len(comments) < total:
        forward = page.offset + len(comments)
        buttons.append(Button(NEXT, pack(dataclasses.replace(page, offset=forward))))
    return text, Keyboard.of(buttons) if buttons else None


async def on_comments(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Lists the latest comments, newest first, five a page with ◀ / ▶ buttons; a theme's
    name (or `theme:<name>`) keeps those that mention it."""
    current = await dictionary(ctx.store, ctx.now)
    surveys = await ctx.store.surveys.all()
    try:
        rest, theme = take_theme(command.args, current.rows, surveys, ctx.texts)
    except UnknownTheme as exc:
        known = ", ".join(current.keys) or "—"
        ctx.out.send(event.chat_id, ctx.texts("th_unknown", theme=str(exc), known=known))
        return
    command = dataclasses.replace(command, args=rest)
    args = await report_args(event, command, ctx, options={"group": tuple(COMMENT_GROUP_WORDS)})
    if args is None:
        return
    scope = args.scope
    if scope.all_surveys:
        scope = dataclasses.replace(scope, surveys=default_surveys(surveys))
    if not scope.all_surveys and len(scope.surveys) > 1:
        # A name shared by several surveys: the buttons carry one survey id, so settle on
        # one now (the slug match if any) and every page shows the same survey.
        wanted = command.args.lower().split()
        chosen = next((s for s in scope.surveys if s.slug.lower() in wanted), scope.surveys[0])
        scope = dataclasses.replace(scope, surveys=(chosen,))
    page = CommentsPage(
        group=COMMENT_GROUP_WORDS.get(args.options.get("group", ""), "all"),
        survey_id=0 if scope.all_surveys else scope.surveys[0].id,
        start=CommentsPage.day_number(scope.period.start),
        end=CommentsPage.day_number(scope.period.end),
        offset=0,
        default_period=int(scope.default_period),
    )
    if theme is not None:
        page = ThemeCommentsPage(**dataclasses.asdict(page), theme_id=theme.id)
    text, keyboard = await render_page(ctx, page, scope, current)
    ctx.out.send(event.chat_id, text, keyboard)


async def _scope_of(ctx: UpdateContext, page: CommentsPage) -> Scope | None:
    """The surveys and period a page button names (None when its survey is gone)."""
    surveys = await ctx.store.surveys.all()
    period = Period(page.first_day, page.last_day)
    if page.survey_id:
        chosen = [s for s in surveys if s.id == page.survey_id]
        if not chosen:
            return None
        return Scope(tuple(chosen), period, False, bool(page.default_period))
    # "All" means what the command meant by it.
    return Scope(default_surveys(surveys), period, True, bool(page.default_period))


async def on_comments_page(event: ButtonPress, page: CommentsPage, ctx: UpdateContext) -> None:
    """Turns the /comments listing to another page, editing the message in place."""
    if event.message_id is None:
        # Only inline-mode messages lack an id, and /comments never sends one.
        ctx.out.answer(event.callback_id, ctx.texts.plain("bad_button"), alert=True)
        return
    scope = await _scope_of(ctx, page)
    if scope is None:
        ctx.out.answer(event.callback_id, ctx.texts.plain("comments_survey_gone"), alert=True)
        return
    text, keyboard = await render_page(ctx, page, scope)
    ctx.out.answer(event.callback_id)
    ctx.out.edit(event.chat_id, event.message_id, text, keyboard)
