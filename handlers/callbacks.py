"""The one codec for inline-button payloads (≤ 64 bytes), shared by both runtimes."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, TypeVar

PREFIX = "nps"
MAX_BYTES = 64
_SAFE_TEXT = re.compile(r"^[A-Za-z0-9_.\-]{0,40}$")
_INT = re.compile(r"^-?\d{1,19}$")

_registry: dict[str, type[Payload]] = {}
P = TypeVar("P", bound="Payload")


class MalformedCallback(ValueError):
    """The callback data is not something this bot produced."""


@dataclass(frozen=True)
class Payload:
    """Base for typed button payloads; subclasses declare `tag` and int/str fields."""

    tag: ClassVar[str] = ""


def payload(tag: str) -> Any:
    """Registers a frozen dataclass as a button payload under a short tag."""

    def register(cls: type[P]) -> type[P]:
        if tag in _registry:
            raise ValueError(f"callback tag {tag!r} registered twice")
        cls.tag = tag
        _registry[tag] = cls
        return cls

    return register


def pack(value: Payload) -> str:
    """Encodes a payload as `nps:<tag>:<field>:…`."""
    parts = [PREFIX, value.tag]
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        text = str(int(item)) if isinstance(item, bool | int) else str(item)
        if not isinstance(item, int) and not _SAFE_TEXT.match(text):
            raise ValueError(f"unsafe callback field {f.name}={text!r}")
        parts.append(text)
    data = ":".join(parts)
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


def is_ours(data: object) -> bool:
    """True when the data carries npsbot's prefix (embedded bots share callbacks; PTB's
    callback data may be any object)."""
    return isinstance(data, str) and data.startswith(PREFIX + ":")


def unpack(data: str | None) -> Payload:
    """Decodes callback data, rejecting anything malformed, forged or foreign."""
    if not data or len(data.encode()) > MAX_BYTES:
        raise MalformedCallback("empty or oversized callback data")
    parts = data.split(":")
    if len(parts) < 2 or parts[0] != PREFIX or parts[1] not in _registry:
        raise MalformedCallback(f"unknown callback {data!r}")
    cls = _registry[parts[1]]
    fields = dataclasses.fields(cls)
    values = parts[2:]
    if len(values) != len(fields):
        raise MalformedCallback(f"wrong field count in {data!r}")
    kwargs: dict[str, Any] = {}
    for f, raw in zip(fields, values, strict=True):
        if f.type in (int, "int"):
            if not _INT.match(raw):
                raise MalformedCallback(f"{f.name} is not a number in {data!r}")
            kwargs[f.name] = int(raw)
        else:
            if not _SAFE_TEXT.match(raw):
                raise MalformedCallback(f"{f.name} has unsafe characters in {data!r}")
            kwargs[f.name] = raw
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise MalformedCallback(str(exc)) from None


@payload("s")
@dataclass(frozen=True)
class ScoreChoice(Payload):
    """A tap on 0–10 for a response."""

    response_id: int
    score: int

    def __post_init__(self) -> None:
        if not 0 <= self.score <= 10:
            raise ValueError("score out of range")


@payload("k")
@dataclass(frozen=True)
class SkipStep(Payload):
    """Skip the follow-up question the response is at."""

    response_id: int
    step: str


@payload("l")
@dataclass(frozen=True)
class LanguageChoice(Payload):
    """A language picked with /language."""

    code: str


# /comments groups in button payloads; short codes keep the payload under 64 bytes even
# with a 19-digit survey id.
COMMENT_GROUPS = ("all", "pro", "pas", "det")


def _yyyymmdd(value: int) -> date:
    """The date of an int like 20261124 (ValueError when it is no date)."""
    if not 10000101 <= value <= 99991231:
        raise ValueError(f"not a yyyymmdd date: {value}")
    return date(value // 10000, value // 100 % 100, value % 100)


@payload("cm")
@dataclass(frozen=True)
class CommentsPage(Payload):
    """A ◀ / ▶ press in /comments: group, survey (0 = all), period as yyyymmdd, offset."""

    group: str
    survey_id: int
    start: int
    end: int
    offset: int
    # 1 when the period was the default one, so the title still says "last 30 days".
    default_period: int = 0

    def __post_init__(self) -> None:
        if self.group not in COMMENT_GROUPS:
            raise ValueError(f"unknown comment group {self.group!r}")
        if self.survey_id < 0 or self.offset < 0 or self.default_period not in (0, 1):
            raise ValueError("negative survey id or offset, or a flag other than 0/1")
        if self.first_day > self.last_day:
            raise ValueError("period starts after it ends")

    @property
    def first_day(self) -> date:
        """The first day of the period."""
        return _yyyymmdd(self.start)

    @property
    def last_day(self) -> date:
        """The last day of the period."""
        return _yyyymmdd(self.end)

    @staticmethod
    def day_number(day: date) -> int:
        """A date as the yyyymmdd int the payload carries."""
        return day.year * 10000 + day.month * 100 + day.day


@payload("ct")
@dataclass(frozen=True)
class ThemeCommentsPage(CommentsPage):
    """A ◀ / ▶ press in `/comments <theme>`: a CommentsPage and the theme's id (themes.id)."""

    theme_id: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.theme_id <= 0:
            raise ValueError("no theme id")


@payload("cr")
@dataclass(frozen=True)
class CaseReply(Payload):
    """Reply to a detractor through the bot."""

    case_id: int


@payload("cv")
@dataclass(frozen=True)
class CaseResolve(Payload):
    """Mark a detractor case resolved."""

    case_id: int
