"""An invitation's attributes (agent, source, campaign, order id and custom ones): the rules.

What a CRM sends with an invitation (`"attributes": {"agent": "olga", "order_id": "A-17",
"region": "north"}`) ends up on the survey response: agent, source and campaign in their
own columns (reports break the score down by them), the order id and up to
`MAX_CUSTOM` custom ones in `responses.attributes`. Exports, /comments and detractor alerts
show them all. Pure rules, no SQL: kept at the bottom layer so that the store enforces them
on every response it opens and the API (or anything above) checks input with the same
function, getting the same error for the same mistake.

Keys are identifiers a spreadsheet column can be titled by: a letter or digit first (so no
header starts a formula), then letters, digits, `_` or `-`, at most `MAX_KEY` characters.
Values are one line of text; surrounding spaces are dropped, and an empty value is the
same as no value (CRMs send empty fields).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

TAGS = ("agent", "source", "campaign")  # stored in columns of their own, String(64)
ORDER_ID = "order_id"
MAX_TAG = 64  # responses.agent / source / campaign
MAX_VALUE = 200  # order_id and custom values
MAX_KEY = 40
MAX_CUSTOM = 20
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidAttributes(ValueError):
    """Attributes that cannot be stored; `field` names the offending one
    (`attributes.<key>`, or `attributes` itself) and `reason` says why, in English."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Attributes:
    """Validated attributes: the three tags, the order id and the custom ones."""

    agent: str | None = None
    source: str | None = None
    campaign: str | None = None
    order_id: str | None = None
    custom: Mapping[str, str] = field(default_factory=dict)

    def stored(self) -> dict[str, str] | None:
        """What `responses.attributes` holds: the order id and the custom ones (None when
        there are none); agent, source and campaign have columns of their own."""
        values = dict(sorted(self.custom.items()))
        if self.order_id is not None:
            values = {ORDER_ID: self.order_id, **values}
        return values or None

    def columns(self, *, anonymous: bool) -> dict[str, object]:
        """The `responses` columns these attributes fill (`Response(**…)` for code that
        creates rows itself); an anonymous (eNPS) answer gets none of them."""
        if anonymous:
            return {"agent": None, "source": None, "campaign": None, "attributes": None}
        return {
            "agent": self.agent,
            "source": self.source,
            "campaign": self.campaign,
            "attributes": self.stored(),
        }


NONE = Attributes()


def _value(key: str, value: object, limit: int) -> str | None:
    """One value checked: a string of one line within `limit` characters (None if empty)."""
    if not isinstance(value, str):
        raise InvalidAttributes(f"attributes.{key}", "must be a string")
    value = value.strip()
    if _CONTROL.search(value):
        raise InvalidAttributes(f"attributes.{key}", "must be one line of text")
    if len(value) > limit:
        raise InvalidAttributes(f"attributes.{key}", f"is longer than {limit} characters")
    return value or None


def is_custom_key(key: str) -> bool:
    """Whether `key` may name a custom attribute (a known key is no custom one)."""
    return len(key) <= MAX_KEY and bool(_KEY.match(key)) and key not in TAGS and key != ORDER_ID


def parse_attributes(raw: Mapping[str, object] | None) -> Attributes:
    """Checks attributes as a caller sends them; raises InvalidAttributes naming the field.

    `agent`, `source`, `campaign` (at most 64 characters) and `order_id` are known keys;
    any other key is custom: at most 20 of them, values of at most 200 characters.
    """
    if raw is None:
        return NONE
    if not isinstance(raw, Mapping):
        raise InvalidAttributes("attributes", "must be an object of strings")
    tags: dict[str, str | None] = dict.fromkeys(TAGS)
    order_id: str | None = None
    custom: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not (key in TAGS or key == ORDER_ID or is_custom_key(key)):
            raise InvalidAttributes(
                f"attributes.{str(key)[:MAX_KEY]}",
                f"keys are 1-{MAX_KEY} letters, digits, '_' or '-', starting with a letter "
                "or digit",
            )
        if key in TAGS:
            tags[key] = _value(key, value, MAX_TAG)
        elif key == ORDER_ID:
            order_id = _value(key, value, MAX_VALUE)
        else:
            checked = _value(key, value, MAX_VALUE)
            if checked is not None:
                custom[key] = checked
    if len(custom) > MAX_CUSTOM:
        raise InvalidAttributes("attributes", f"at most {MAX_CUSTOM} custom attributes")
    return Attributes(tags["agent"], tags["source"], tags["campaign"], order_id, custom)


def shown(
    agent: str | None,
    source: str | None,
    campaign: str | None,
    stored: Mapping[str, str] | None,
) -> list[tuple[str, str]]:
    """The (key, value) pairs a reader sees, in a fixed order: agent, source, campaign,
    order id, then the custom ones by key; absent ones left out."""
    pairs = [
        (key, value) for key, value in zip(TAGS, (agent, source, campaign), strict=True) if value
    ]
    stored = stored or {}
    if stored.get(ORDER_ID):
        pairs.append((ORDER_ID, stored[ORDER_ID]))
    pairs.extend(sorted((k, v) for k, v in stored.items() if k != ORDER_ID and v))
    return pairs
