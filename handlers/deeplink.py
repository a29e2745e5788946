"""Deep-link payloads: `t.me/<bot>?start=<survey>__s-<source>__a-<agent>__c-<campaign>`."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PAYLOAD = 64
_ALLOWED = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TAGS = {"s": "source", "a": "agent", "c": "campaign"}


@dataclass(frozen=True)
class DeepLink:
    """What a /start payload asks for; `valid` is False for malformed payloads."""

    raw: str | None
    survey_slug: str | None = None
    source: str | None = None
    agent: str | None = None
    campaign: str | None = None
    valid: bool = True


def parse_payload(raw: str | None) -> DeepLink:
    """Splits a payload into survey slug and context tags (Telegram allows A-Z a-z 0-9 _ -)."""
    if not raw:
        return DeepLink(raw=None)
    raw = raw.strip()
    if not _ALLOWED.match(raw):
        return DeepLink(raw=raw[:MAX_PAYLOAD], valid=False)
    first, *tags = raw.split("__")
    values: dict[str, str] = {}
    for tag in tags:
        key, sep, value = tag.partition("-")
        if not sep or key not in _TAGS or not value:
            return DeepLink(raw=raw, survey_slug=first or None, valid=False)
        values[_TAGS[key]] = value
    return DeepLink(
        raw=raw,
        survey_slug=first or None,
        source=values.get("source"),
        agent=values.get("agent"),
        campaign=values.get("campaign"),
    )


def build_payload(
    survey_slug: str,
    *,
    source: str | None = None,
    agent: str | None = None,
    campaign: str | None = None,
) -> str:
    """The inverse of parse_payload, for deep links shown to admins."""
    parts = [survey_slug]
    for key, value in (("s", source), ("a", agent), ("c", campaign)):
        if value:
            parts.append(f"{key}-{value}")
    payload = "__".join(parts)
    if not _ALLOWED.match(payload):
        raise ValueError(
            f"deep-link payload {payload!r} exceeds 64 characters or has bad characters"
        )
    return payload
