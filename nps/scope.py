"""What an owner's report command asks for: `/cmd [by X] [survey] [period] [option…]`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from nps.periods import Period, PeriodError, parse_period
from storage.repos.surveys import SurveyView

# "channel": the messaging channel an answer was given through (telegram, whatsapp, web).
# "variant": the arm of an A/B broadcast (A, B, control), from the recorded assignments.
SEGMENTS = ("agent", "source", "campaign", "language", "channel", "survey", "variant")
# Tokens that can only be meant as a period, so a failure to parse them is a period error.
_PERIODISH = re.compile(r"^(\d|today$|yesterday$|all$|last|week$|month$|quarter$|year$)")


class ArgumentError(ValueError):
    """Arguments that cannot be understood; `key` and `values` name a catalog text."""

    def __init__(self, key: str, **values: str) -> None:
        super().__init__(f"{key}: {values}")
        self.key = key
        self.values = values


@dataclass(frozen=True)
class Scope:
    """The surveys and the period a report covers."""

    surveys: tuple[SurveyView, ...]
    period: Period
    all_surveys: bool
    default_period: bool

    @property
    def survey_ids(self) -> list[int]:
        """Ids of the surveys in scope."""
        return [s.id for s in self.surveys]


@dataclass(frozen=True)
class ReportArgs:
    """A parsed report command."""

    scope: Scope
    segment: str | None = None
    options: dict[str, str] = field(default_factory=dict)


# Kinds whose answers are on the 0–10 scale: the only ones an NPS figure can be made of.
NPS_SCALE_KINDS = ("nps", "enps")


def reportable(surveys: Sequence[SurveyView], kind: str = "nps") -> tuple[SurveyView, ...]:
    """The surveys a report covers when none is named: for NPS the NPS ones (eNPS answers
    are a different question), or every 0–10 survey when there is no NPS one; for CSAT and
    CES (/csat, /ces) the surveys of that kind."""
    if kind != "nps":
        return tuple(s for s in surveys if s.kind == kind)
    return tuple(s for s in surveys if s.kind == "nps") or tuple(
        s for s in surveys if s.kind in NPS_SCALE_KINDS
    )


def _take_period(tokens: list[str], today: date, earliest: date | None) -> tuple[Period, bool]:
    """Finds the period among the tokens (two-word forms like "last month" first)."""
    for i in range(len(tokens) - 1):
        pair = f"{tokens[i]} {tokens[i + 1]}"
        if tokens[i].lower() == "last":
            try:
                period = parse_period(pair, today, earliest)
            except PeriodError:
                continue
            del tokens[i : i + 2]
            return period, False
    for i, token in enumerate(tokens):
        try:
            period = parse_period(token, today, earliest)
        except PeriodError:
            if _PERIODISH.match(token.lower()):
                raise ArgumentError(
                    "bad_period_reversed" if ".." in token else "bad_period", text=token
                ) from None
            continue
        del tokens[i]
        return period, False
    return parse_period(None, today), True


def parse_report_args(
    text: str,
    surveys: Sequence[SurveyView],
    *,
    today: date,
    command: str,
    options: Mapping[str, Sequence[str]] | None = None,
    allow_segment: bool = False,
    earliest: date | None = None,
    kind: str = "nps",
) -> ReportArgs:
    """Parses `[by X] [survey] [period] [option…]`; raises ArgumentError with a catalog key.
    Without a survey named, the scope is the `reportable` surveys of `kind`."""
    tokens = text.split()
    segment = None
    if allow_segment and tokens and tokens[0].lower() == "by":
        if len(tokens) < 2 or tokens[1].lower() not in SEGMENTS:
            raise ArgumentError("bad_segment", command=command)
        segment = tokens[1].lower()
        del tokens[:2]
    chosen: dict[str, str] = {}
    for name, allowed in (options or {}).items():
        for token in list(tokens):
            if token.lower() in allowed and name not in chosen:
                chosen[name] = token.lower()
                tokens.remove(token)
    period, default_period = _take_period(tokens, today, earliest)
    if len(tokens) > 1:
        raise ArgumentError("bad_arguments", text=" ".join(tokens), command=command)
    if tokens:
        wanted = tokens[0].lower()
        match = [s for s in surveys if s.slug.lower() == wanted or s.name.lower() == wanted]
        if not match:
            known = ", ".join(s.slug for s in surveys)
            raise ArgumentError("unknown_survey", name=tokens[0], known=known, command=command)
        scope = Scope(tuple(match), period, all_surveys=False, default_period=default_period)
    else:
        default = reportable(surveys, kind)
        scope = Scope(default, period, all_surveys=True, default_period=default_period)
    return ReportArgs(scope, segment, chosen)
