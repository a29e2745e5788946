"""Which report command a survey's figures belong to: /nps for 0–10 surveys (NPS, eNPS),
/csat and /ces for theirs; a survey named in the wrong one gets a pointer to the right one."""

from __future__ import annotations

from nps.scales import CES, CSAT
from nps.scope import Scope

#: The report command of each kind whose figures are not NPS.
KIND_COMMANDS = {CSAT: "csat", CES: "ces"}


def command_of(kind: str) -> str:
    """The report command for a survey kind: "csat", "ces", else "nps"."""
    return KIND_COMMANDS.get(kind, "nps")


def wrong_kind_pointer(scope: Scope, command: str) -> tuple[str, dict[str, str]] | None:
    """The catalog key and values of "“Checkout” is a CSAT survey: see /csat checkout" when a
    named survey's figures belong to another command; None when they are this one's."""
    if scope.all_surveys:
        return None
    for survey in scope.surveys:
        right = command_of(survey.kind)
        if right != command:
            return f"kind_pointer_{right}", {"name": survey.name, "slug": survey.slug}
    return None


def scope_kind(scope: Scope) -> str:
    """The kind whose figures a scope's report shows: CSAT or CES when every survey in it is
    of that kind, else NPS (the 0–10 surveys, and any mix)."""
    kinds = {survey.kind for survey in scope.surveys}
    if len(kinds) == 1 and (kind := kinds.pop()) in KIND_COMMANDS:
        return kind
    return "nps"
