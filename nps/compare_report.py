"""`/nps compare`: the two groups' histograms fetched, compared and written for an owner."""

from __future__ import annotations

import html

from nps.anonymity import DEFAULT_MIN_GROUP, anonymous_scope, too_few
from nps.compare_args import CompareArgs, Side
from nps.compare_math import MIN_GROUP_ANSWERS, Difference, Verdict, compare_groups
from nps.nps_math import format_margin, format_nps
from nps.nps_report import Counts, Texts, describe_period, number, scope_title, value_totals
from storage.store import Store

EMPTY: Counts = (0,) * 12


def _add(total: Counts, more: Counts) -> Counts:
    return tuple(x + y for x, y in zip(total, more, strict=True))


async def side_counts(store: Store, side: Side) -> Counts:
    """Invited and score counts (storage/repos/stats.py's shape) of one side."""
    scope = side.scope
    period = scope.period
    ids = scope.survey_ids
    if side.dimension is None or side.dimension == "survey":
        totals = await store.stats.totals(ids, period.start, period.end)
        return totals.get("", EMPTY)
    totals = await value_totals(store, scope, side.dimension)
    wanted = (side.value or "").lower()
    found = EMPTY
    # Values are stored as they came (a deep link's "Olga", a CRM's "olga"): one person's
    # spelling, so they are summed whatever the case.
    for value, counts in totals.items():
        if value.lower() == wanted:
            found = _add(found, counts)
    return found


async def build_comparison(store: Store, args: CompareArgs) -> Difference:
    """Both sides' histograms compared (A − B)."""
    a = await side_counts(store, args.a)
    b = await side_counts(store, args.b)
    return compare_groups(a[1:], b[1:])


def _side_label(side: Side, args: CompareArgs, texts: Texts) -> str:
    if args.by_period:
        return f"{side.label} ({describe_period(side.scope.period, texts)})"
    return side.label


def _heading(args: CompareArgs, texts: Texts) -> str:
    """The surveys and period both sides share (for periods, the surveys only)."""
    if args.by_period:
        scope = args.a.scope
        if scope.all_surveys and len(scope.surveys) != 1:
            return texts.plain("all_surveys")
        return ", ".join(s.name for s in scope.surveys)
    if args.a.dimension == "survey":
        return scope_title(args.a.scope, texts).split(" · ", 1)[1]
    return scope_title(args.a.scope, texts)


def render_comparison(
    args: CompareArgs,
    result: Difference,
    texts: Texts,
    *,
    min_group: int = DEFAULT_MIN_GROUP,
) -> str:
    """The `/nps compare` message (HTML)."""
    a_label, b_label = _side_label(args.a, args, texts), _side_label(args.b, args, texts)
    title = texts.plain("cmp_title", a=args.a.label, b=args.b.label)
    lines = [f"<b>{html.escape(title)}</b>", html.escape(_heading(args, texts))]
    anonymous = anonymous_scope(args.a.scope) or anonymous_scope(args.b.scope)
    if any(too_few(s.n, anonymous, min_group) for s in (result.a, result.b)):
        lines.append(texts("cmp_hidden", min=min_group))
        return "\n".join(lines)
    for tag, label, summary in (("A", a_label, result.a), ("B", b_label, result.b)):
        if not summary.n:
            lines.append(texts("cmp_side_none", tag=tag, label=label))
            continue
        lines.append(
            texts(
                "cmp_side",
                tag=tag,
                label=label,
                nps=format_nps(summary.nps),
                margin=format_margin(summary.margin),
                n=number(summary.n),
            )
        )
    if result.verdict == Verdict.NO_ANSWERS:
        empty = args.a.label if not result.a.n else args.b.label
        lines.append(texts("cmp_no_answers", side=empty))
        return "\n".join(lines)
    lines.append(
        texts(
            "cmp_difference",
            delta=format_nps(result.delta),
            low=format_nps(result.low),
            high=format_nps(result.high),
        )
    )
    a, b = args.a.label, args.b.label
    if result.verdict == Verdict.TOO_FEW:
        lines.append(
            texts(
                "cmp_too_few",
                min=MIN_GROUP_ANSWERS,
                a_n=number(result.a.n),
                b_n=number(result.b.n),
            )
        )
    elif result.verdict == Verdict.A_HIGHER:
        lines.append(texts("cmp_higher", higher=a, lower=b))
    elif result.verdict == Verdict.B_HIGHER:
        lines.append(texts("cmp_higher", higher=b, lower=a))
    else:
        lines.append(texts("cmp_not_significant"))
    return "\n".join(lines)
