"""The line that shows an answer's invitation attributes to the team: in /comments and in
detractor alerts ("🏷 campaign: dec · order: A-17 · region: north")."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from handlers.texts import TextsLike
from nps.nps_report import shorten
from storage.attributes import ORDER_ID, TAGS, shown

MARK = "🏷"
# Labels from the catalog; custom keys are shown as the CRM named them.
_LABELLED = frozenset((*TAGS, ORDER_ID))
VALUE_CHARS = 60  # one value in the line; exports keep them whole


def attribute_line(
    texts: TextsLike,
    *,
    agent: str | None,
    source: str | None,
    campaign: str | None,
    attributes: Mapping[str, str] | None,
    skip: Collection[str] = (),
    limit: int = 1000,
) -> str:
    """The attributes as one HTML line, "" when there are none; `skip` leaves out keys
    the message shows elsewhere; pairs that would take the line past `limit` visible
    characters are left out for "…"."""
    pairs = [
        (key, value)
        for key, value in shown(agent, source, campaign, attributes)
        if key not in skip
    ]
    if not pairs:
        return ""
    parts: list[str] = []
    used = len(MARK) + 1
    for key, value in pairs:
        name = texts.plain(f"attr_{key}") if key in _LABELLED else key
        value = shorten(value, VALUE_CHARS)
        visible = len(texts.plain("attr_pair", name=name, value=value)) + 3  # " · "
        if parts and used + visible > limit:
            parts.append("…")
            break
        parts.append(texts("attr_pair", name=name, value=value))
        used += visible
    return f"{MARK} " + " · ".join(parts)
