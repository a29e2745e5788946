"""`/themes`: what the comments talk about, the theme dictionary and suggested themes.

`/themes [promoters|passives|detractors] [survey] [period]` — each theme's mentions, share,
impact on NPS, change and two examples, then suggested themes with Accept / Dismiss
buttons (admins). `/themes list [language]` shows the dictionary; `/themes edit [language]
key: word, word…` (one theme per line) and `/themes remove key` change it (admins).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.access import refusal_key, role_of
from handlers.callbacks import Payload, pack, payload
from handlers.comments import GROUP_WORDS, TEXT_LIMIT, group_label, visible_length
from handlers.context import UpdateContext
from handlers.events import ButtonPress, Command, IncomingMessage
from handlers.port import Button, Keyboard
from handlers.roles import Role
from handlers.stats import report_args
from handlers.texts import TextsLike
from handlers.theme_labels import change_mark, label
from nps.anonymity import anonymous_scope
from nps.nps_math import Group, format_nps, format_pct
from nps.nps_report import scope_title, shorten
from nps.theme_index import dictionary, refresh, with_words, words_in
from nps.theme_report import SuggestedTheme, ThemeLine, ThemesReport, build_themes
from nps.themes import LANGUAGES, parse_edit
from storage.repos.themes import ThemeRow
from storage.theme_models import ACCEPTED, DISMISSED, OPEN, OWNER, SUGGESTED

# The /comments group codes, as Group values.
GROUPS = {"pro": Group.PROMOTER, "pas": Group.PASSIVE, "det": Group.DETRACTOR}
# Characters of one example comment, tried in turn until the message fits.
EXAMPLE_CAPS = (90, 60, 40, 0)
LIST_WORDS_CHARS = 600
# Answers /themes reads itself before reporting (~0.3 s); the background job reads the rest.
REPORT_REFRESH = 3000
_SUB = re.compile(r"^\s*(\S+)\s*(.*)$", re.DOTALL)


@payload("tha")
@dataclass(frozen=True)
class ThemeDecision(Payload):
    """Accept ("a") or dismiss ("d") a suggested theme (its id in theme_suggestions)."""

    suggestion_id: int
    action: str

    def __post_init__(self) -> None:
        if self.action not in ("a", "d") or self.suggestion_id <= 0:
            raise ValueError("unknown theme decision")


def _theme_block(
    line: ThemeLine, position: int, texts: TextsLike, cap: int, min_group: int
) -> str:
    rows = [
        texts(
            "th_line",
            n=position,
            label=label(line.key, texts),
            mentions=line.mentions,
            share=format_pct(line.share),
            change=change_mark(line.change),
        )
    ]
    if line.impact is not None:
        rows.append(
            texts(
                "th_impact",
                with_=format_nps(line.nps_with),
                without=format_nps(line.nps_without),
                impact=format_nps(line.impact),
            )
        )
    elif line.mentions and min_group:
        rows.append(texts("th_impact_hidden", min=min_group))
    if cap:
        rows += [texts("th_example", text=shorten(example, cap)) for example in line.examples]
    return "\n".join(rows)


def _suggestion_block(suggestion: SuggestedTheme, texts: TextsLike, cap: int) -> str:
    rows = [
        texts(
            "th_suggested",
            theme=suggestion.key,
            size=suggestion.size,
            terms=", ".join(suggestion.terms),
        )
    ]
    if cap:
        rows += [
            texts("th_example", text=shorten(example, cap)) for example in suggestion.examples
        ]
    return "\n".join(rows)


def render_themes(
    report: ThemesReport,
    title: str,
    texts: TextsLike,
    *,
    days: int,
    min_group: int,
    can_decide: bool,
) -> str:
    """The /themes message (HTML), examples shortened until it fits one message."""
    if report.hidden:
        return f"{title}\n{texts('enps_hidden', min=min_group)}"
    head = [
        title,
        texts(
            "th_summary",
            answers=report.answers,
            commented=report.commented,
            themed=report.themed,
        ),
    ]
    if not report.commented:
        return "\n".join([*head, "", texts("th_no_comments")])
    head.append(texts("th_legend", days=days))
    text = ""
    # Shorter examples first, then none, then fewer themes, until it fits one message.
    for cap, shown in [
        *((cap, len(report.lines)) for cap in EXAMPLE_CAPS),
        *((0, n) for n in range(len(report.lines) - 1, 0, -1)),
    ]:
        parts = ["\n".join(head)]
        parts += [
            _theme_block(line, i, texts, cap, min_group)
            for i, line in enumerate(report.lines[:shown], 1)
        ]
        if not report.lines:
            parts.append(texts("th_none_mentioned"))
        if report.suggestions:
            block = [texts("th_suggested_title")]
            block += [_suggestion_block(s, texts, cap) for s in report.suggestions]
            if not can_decide:
                block.append(texts("th_suggested_viewer"))
            parts.append("\n".join(block))
        text = "\n\n".join(parts)
        if visible_length(text) <= TEXT_LIMIT:
            break
    return text


def _decision_keyboard(report: ThemesReport, texts: TextsLike) -> Keyboard | None:
    rows = [
        [
            Button(
                texts.plain("th_btn_accept", theme=shorten(s.key, 24)),
                pack(ThemeDecision(s.id, "a")),
            ),
            Button(
                texts.plain("th_btn_dismiss"),
                pack(ThemeDecision(s.id, "d")),
            ),
        ]
        for s in report.suggestions
    ]
    return Keyboard.of(*rows) if rows else None


async def on_themes(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Themes of the comments, or the dictionary's list / edit / remove."""
    match = _SUB.match(command.args)
    sub = match.group(1).lower() if match else ""
    rest = match.group(2) if match else ""
    if sub == "list":
        await _list(event, rest, ctx)
    elif sub == "edit":
        if await _admin(event, ctx, "themes edit"):
            await _edit(event, rest, ctx)
    elif sub == "remove":
        if await _admin(event, ctx, "themes remove"):
            await _remove(event, rest, ctx)
    else:
        await _report(event, command, ctx)


async def _admin(event: IncomingMessage, ctx: UpdateContext, name: str) -> bool:
    """True for admins and owners (checked on every call); others are told why not."""
    have = await role_of(ctx, event.sender.id)
    if have >= Role.ADMIN:
        return True
    ctx.out.send(event.chat_id, ctx.texts(refusal_key(have, Role.ADMIN), command=name))
    return False


async def _report(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    args = await report_args(event, command, ctx, options={"group": tuple(GROUP_WORDS)})
    if args is None:
        return
    scope = args.scope
    code = GROUP_WORDS.get(args.options.get("group", ""), "all")
    group = GROUPS.get(code)
    # The background job has usually done it; after a dictionary edit over many answers
    # it goes on with the rest, and the report says how many are still to be read.
    current = await dictionary(ctx.store, ctx.now)
    done = await refresh(ctx.store, ctx.now, limit=REPORT_REFRESH, current=current)
    waiting = 0
    if done >= REPORT_REFRESH:  # only then can some be left
        waiting = await ctx.store.themes.pending_count(current.version)
    texts = ctx.texts
    heading = scope_title(scope, texts)
    if group is None:
        title = f"<b>{texts('th_title', scope=heading)}</b>"
    else:
        name = group_label(scope, code, texts)
        title = f"<b>{texts('th_title_group', group=name, scope=heading)}</b>"
    if not current.keys:
        ctx.out.send(event.chat_id, f"{title}\n{texts('th_no_themes')}")
        return
    anonymous = anonymous_scope(scope)
    can_decide = await role_of(ctx, event.sender.id) >= Role.ADMIN
    report = await build_themes(
        ctx.store,
        current,
        scope,
        ctx.store.stats.tz,
        ctx.now,
        group=group,
        min_group=ctx.config.enps_min_group,
        anonymous=anonymous,
    )
    text = render_themes(
        report,
        title,
        texts,
        days=scope.period.days,
        min_group=ctx.config.enps_min_group if anonymous else 0,
        can_decide=can_decide,
    )
    if waiting and not report.hidden:
        text = f"{text}\n\n{texts('th_pending', count=waiting)}"
    keyboard = _decision_keyboard(report, texts) if can_decide and not report.hidden else None
    ctx.out.send(event.chat_id, text, keyboard)


def _language_of(ctx: UpdateContext) -> str:
    return ctx.language if ctx.language in LANGUAGES else "en"


def _usage(ctx: UpdateContext) -> str:
    return ctx.texts("th_edit_usage", language=_language_of(ctx))


async def _edit(event: IncomingMessage, rest: str, ctx: UpdateContext) -> None:
    """Replaces the words of one theme per line, in one language; all lines or none."""
    lines = [line.strip() for line in rest.splitlines() if line.strip()]
    if not lines:
        ctx.out.send(event.chat_id, _usage(ctx))
        return
    current = await dictionary(ctx.store, ctx.now)
    parsed: list[tuple[str, str, tuple[str, ...]]] = []
    for number, line in enumerate(lines, 1):
        language = _language_of(ctx)
        head, colon, tail = line.partition(":")
        tokens = head.split()
        if colon and len(tokens) == 2 and tokens[0].lower() in LANGUAGES:
            language = tokens[0].lower()
            line = f"{tokens[1]}:{tail}"
        try:
            key, words = parse_edit(line)
        except ValueError as exc:
            ctx.out.send(
                event.chat_id,
                ctx.texts("th_edit_bad", line=number, text=shorten(line, 80), reason=str(exc))
                + "\n"
                + _usage(ctx),
            )
            return
        parsed.append((key, language, words))
    done = []
    # Later lines about the same theme build on this one (kept here, not read again).
    saved: dict[str, ThemeRow] = {}
    for key, language, words in parsed:
        row = saved.get(key.casefold()) or current.find(key)
        stored = key if row is None else row.key
        updated = with_words(row, language, words)
        await ctx.store.themes.save(stored, updated, OWNER, ctx.now)
        origin, row_id = (OWNER, 0) if row is None else (row.origin, row.id)
        saved[stored.casefold()] = ThemeRow(stored, updated, origin, True, row_id)
        done.append(
            ctx.texts(
                "th_edited",
                label=label(stored, ctx.texts),
                language=language,
                words=shorten(", ".join(words), LIST_WORDS_CHARS),
            )
        )
    ctx.out.send(event.chat_id, "\n".join([*done, ctx.texts("th_edited_note")]))


async def _remove(event: IncomingMessage, rest: str, ctx: UpdateContext) -> None:
    """Takes a theme out of use; its answers lose it at the next refresh."""
    key = rest.strip()
    if not key:
        ctx.out.send(event.chat_id, ctx.texts("th_remove_usage"))
        return
    current = await dictionary(ctx.store, ctx.now)
    row = current.find(key)
    if row is None or not row.active:
        known = ", ".join(current.keys) or "—"
        ctx.out.send(event.chat_id, ctx.texts("th_unknown", theme=key, known=known))
        return
    await ctx.store.themes.deactivate(row.key, ctx.now)
    ctx.out.send(
        event.chat_id, ctx.texts("th_removed", label=label(row.key, ctx.texts), theme=row.key)
    )


async def _list(event: IncomingMessage, rest: str, ctx: UpdateContext) -> None:
    """The dictionary in one language (the user's, or the one named)."""
    wanted = rest.strip().lower()
    if wanted and wanted not in LANGUAGES:
        ctx.out.send(
            event.chat_id,
            ctx.texts("th_list_usage", languages=", ".join(LANGUAGES)),
        )
        return
    language = wanted or _language_of(ctx)
    current = await dictionary(ctx.store, ctx.now)
    texts = ctx.texts
    lines = [texts("th_list_title", language=language)]
    active = [row for row in current.rows if row.active]
    if not active:
        lines.append(texts("th_no_themes"))
    for row in active:
        words = words_in(row, language)
        if words:
            lines.append(
                texts(
                    "th_list_line",
                    label=label(row.key, texts),
                    theme=row.key,
                    words=shorten(", ".join(words), LIST_WORDS_CHARS),
                )
            )
        else:
            lines.append(texts("th_list_no_words", label=label(row.key, texts), theme=row.key))
    removed = [row.key for row in current.rows if not row.active]
    if removed:
        lines.append(texts("th_list_removed", keys=", ".join(removed)))
    lines.append(texts("th_list_hint", language=language))
    for chunk in _chunks(lines):
        ctx.out.send(event.chat_id, chunk)


def _chunks(lines: list[str]) -> list[str]:
    """Lines packed into messages under Telegram's limit."""
    chunks: list[str] = []
    current: list[str] = []
    for line in lines:
        if current and visible_length("\n".join([*current, line])) > TEXT_LIMIT:
            chunks.append("\n".join(current))
            current = []
        current.append(line)
    if current:
        chunks.append("\n".join(current))
    return chunks


async def on_theme_decision(event: ButtonPress, choice: ThemeDecision, ctx: UpdateContext) -> None:
    """Accepts a suggested theme (its terms become its words) or dismisses it for good."""
    texts = ctx.texts
    found = await ctx.store.themes.suggestion(choice.suggestion_id)
    if found is None:
        ctx.out.answer(event.callback_id, texts.plain("th_gone"), alert=True)
        return
    if found.state != OPEN:
        said = "th_already_accepted" if found.state == ACCEPTED else "th_already_dismissed"
        ctx.out.answer(event.callback_id, texts.plain(said, theme=found.key), alert=True)
        return
    state = ACCEPTED if choice.action == "a" else DISMISSED
    if not await ctx.store.themes.decide(found.id, state, ctx.now):
        # Another press got there first, in a transaction committed since we read it.
        ctx.out.answer(event.callback_id, texts.plain("th_already_decided"), alert=True)
        return
    if state == DISMISSED:
        ctx.out.answer(event.callback_id)
        ctx.out.send(event.chat_id, texts("th_dismissed", theme=found.key))
        return
    current = await dictionary(ctx.store, ctx.now)
    existing = current.find(found.key)
    if existing is not None and existing.active:
        ctx.out.answer(event.callback_id, texts.plain("th_already_theme", theme=existing.key))
        return
    language = found.language if found.language in LANGUAGES else _language_of(ctx)
    words = tuple(found.terms) or (found.key,)
    await ctx.store.themes.save(
        found.key, with_words(existing, language, words), SUGGESTED, ctx.now
    )
    ctx.out.answer(event.callback_id)
    ctx.out.send(
        event.chat_id,
        texts("th_accepted", theme=found.key, language=language, words=", ".join(words)),
    )
