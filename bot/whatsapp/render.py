"""Queued messages as Cloud API bodies, within WhatsApp's limits: HTML as WhatsApp's
markup, inline keyboards as reply buttons or a list, the 0–10 keyboard as two taps.

The two taps: the question carries three reply buttons "0 – 3", "4 – 7", "8 – 10" (the
scale in order, in ranges of nearly equal size that do not follow the detractor / passive
/ promoter groups, so no range looks like the expected one), and says a typed number
works too; tapping a range sends a list of its scores. The range button's id holds the
language, the range and the score buttons' callback prefix, so the second message is built
from the tap alone (no state), and its rows carry the handlers' own callback data.

A CSAT (1–5 ⭐) or CES (1–7) question needs no ranges: its scores fit one list (ten rows at
most), so the question itself carries the list — one tap opens it, one chooses — with the
scale's ends named under the first and last rows; a typed number works too.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from handlers.callbacks import ScoreChoice
from handlers.kinds import for_kind
from handlers.port import Button, Keyboard, Markup, ReplyKeyboard
from handlers.respondent_messages import score_label
from handlers.texts import CatalogsLike
from nps.scales import NPS, SCALES, scale_of

TEXT_LIMIT = 4096
BODY_LIMIT = 1024
FOOTER_LIMIT = 60
BUTTON_TITLE = 20
ROW_TITLE = 24
ROW_DESCRIPTION = 72
MAX_BUTTONS = 3
MAX_ROWS = 10
# The score keyboard's buttons: `nps:s:<response id>:<score>` (handlers/callbacks.py's
# ScoreChoice; only its tag, so no other keyboard of numbers passes for a 1–5 scale).
_SCORE_DATA = re.compile(rf"^(nps:{ScoreChoice.tag}:\d+):(\d{{1,2}})$")
RANGES = ((0, 3), (4, 7), (8, 10))
RANGE_PREFIX = "nps-wa:r"  # a range tap: nps-wa:r:<language>:<low>:<high>:<callback prefix>
TEXT_PREFIX = "nps-wa:t:"  # a reply keyboard's button: the tap is the button's text

_TAGS = [
    (re.compile(r"</?(b|strong)>", re.I), "*"),
    (re.compile(r"</?(i|em)>", re.I), "_"),
    (re.compile(r"</?(s|del|strike)>", re.I), "~"),
    (re.compile(r"</?(code|pre)>", re.I), "```"),
]
_LINK = re.compile(r'<a\s+href="([^"]*)"\s*>(.*?)</a>', re.I | re.S)
_BREAK = re.compile(r"<br\s*/?>", re.I)
_ANY_TAG = re.compile(r"<[^>]+>")


def whatsapp_text(markup: str) -> str:
    """Telegram HTML as WhatsApp's markup (*bold*, _italic_, ~strike~, ```mono```); a link
    becomes its text and the URL (WhatsApp has no hidden links)."""

    def link(match: re.Match[str]) -> str:
        url, label = html.unescape(match.group(1)), match.group(2)
        plain = _ANY_TAG.sub("", label).strip()
        return url if not plain or plain == url else f"{label} ({url})"

    text = _LINK.sub(link, markup)
    text = _BREAK.sub("\n", text)
    for pattern, mark in _TAGS:
        text = pattern.sub(mark, text)
    return html.unescape(_ANY_TAG.sub("", text))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class ScoreKeyboard:
    """A score keyboard the handlers built: its callback prefix and the survey kind whose
    scale it shows ("nps" for every 0–10 one: eNPS asks the same way)."""

    prefix: str
    kind: str = NPS

    @property
    def one_list(self) -> bool:
        """True when the scale fits one list (CSAT, CES): no range buttons first."""
        return len(scale_of(self.kind).scores()) <= MAX_ROWS


def _kind_of_scores(scores: list[int]) -> str | None:
    """The kind whose scale is exactly these scores (0–10 is NPS's), else None."""
    for kind, scale in SCALES.items():
        if scores == list(scale.scores()):
            return kind
    return None


def score_keyboard_of(keyboard: Keyboard) -> ScoreKeyboard | None:
    """The handlers' score keyboard (one prefix, every score of a kind's scale: 0–10,
    1–5, 1–7), else None."""
    found: dict[int, str] = {}
    for row in keyboard.rows:
        for button in row:
            match = _SCORE_DATA.match(button.data or "")
            if match is None:
                return None
            found[int(match.group(2))] = match.group(1)
    prefixes = set(found.values())
    kind = _kind_of_scores(sorted(found))
    if kind is None or len(prefixes) != 1:
        return None
    return ScoreKeyboard(prefixes.pop(), kind)


def _reply_buttons(
    body: str, buttons: list[tuple[str, str]], footer: str | None
) -> dict[str, Any]:
    interactive: dict[str, Any] = {
        "type": "button",
        "body": {"text": _cut(body, BODY_LIMIT)},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": data, "title": _cut(title, BUTTON_TITLE)}}
                for data, title in buttons
            ]
        },
    }
    if footer:
        interactive["footer"] = {"text": _cut(footer, FOOTER_LIMIT)}
    return {"type": "interactive", "interactive": interactive}


def _row(data: str, title: str, description: str | None) -> dict[str, str]:
    row = {"id": data, "title": _cut(title, ROW_TITLE)}
    if description:
        row["description"] = _cut(description, ROW_DESCRIPTION)
    return row


def _list(
    body: str,
    label: str,
    rows: list[tuple[str, str]],
    *,
    footer: str | None = None,
    descriptions: dict[str, str] | None = None,
) -> dict[str, Any]:
    interactive: dict[str, Any] = {
        "type": "list",
        "body": {"text": _cut(body, BODY_LIMIT)},
        "action": {
            "button": _cut(label, BUTTON_TITLE),
            "sections": [
                {
                    "rows": [
                        _row(data, title, (descriptions or {}).get(data))
                        for data, title in rows[:MAX_ROWS]
                    ]
                }
            ],
        },
    }
    if footer:
        interactive["footer"] = {"text": _cut(footer, FOOTER_LIMIT)}
    return {"type": "interactive", "interactive": interactive}


def text_message(body: str) -> dict[str, Any]:
    """A plain text message (split by the caller when longer than 4096 characters)."""
    return {"type": "text", "text": {"body": _cut(body, TEXT_LIMIT), "preview_url": False}}


class Renderer:
    """Builds message bodies in the recipient's language (catalog texts for the score)."""

    def __init__(self, catalogs: CatalogsLike) -> None:
        self.catalogs = catalogs

    def message(self, markup_html: str, markup: Markup | None, language: str) -> dict[str, Any]:
        """The body of one SendText."""
        body = whatsapp_text(markup_html)
        if isinstance(markup, ReplyKeyboard):
            typed = [b.text for row in markup.rows for b in row if not b.share_contact]
            if not typed or len(typed) > MAX_BUTTONS:
                return text_message(body)
            return _reply_buttons(body, [(TEXT_PREFIX + t, t) for t in typed], None)
        if not isinstance(markup, Keyboard):
            return text_message(body)
        links = [b for row in markup.rows for b in row if b.url]
        if links:  # no hidden URL buttons on WhatsApp: the links follow the text
            body += "\n\n" + "\n".join(_link_line(b) for b in links)
        score = score_keyboard_of(markup)
        if score is not None:
            return self.score_question(body, score, language)
        choices = [(b.data, b.text) for row in markup.rows for b in row if b.data]
        if not choices:
            return text_message(body)
        if len(choices) <= MAX_BUTTONS and all(len(t) <= BUTTON_TITLE for _, t in choices):
            return _reply_buttons(body, choices, None)
        texts = self.catalogs.texts(language)
        return _list(body, texts.plain("wa_list_button"), choices)

    def score_question(self, body: str, score: ScoreKeyboard, language: str) -> dict[str, Any]:
        """The question with the three range buttons (the first tap); a CSAT or CES
        question with its list of scores (the first tap opens it, the second chooses)."""
        texts = self.catalogs.texts(language)
        if score.one_list:
            return self.scale_list(body, score, language)
        buttons = [
            (f"{RANGE_PREFIX}:{language}:{low}:{high}:{score.prefix}", f"{low} – {high}")
            for low, high in RANGES
        ]
        return _reply_buttons(body, buttons, texts.plain("wa_type_score"))

    def scale_list(self, body: str, score: ScoreKeyboard, language: str) -> dict[str, Any]:
        """A CSAT or CES question as one list: a row a score ("4 ⭐"), the scale's ends
        named under the first and the last, a typed number offered in the footer."""
        scale = scale_of(score.kind)
        texts = for_kind(self.catalogs.texts(language), score.kind, None, language)
        rows = [(f"{score.prefix}:{s}", score_label(score.kind, s)) for s in scale.scores()]
        ends = {
            rows[0][0]: texts.plain("web_scale_low"),
            rows[-1][0]: texts.plain("web_scale_high"),
        }
        footer = texts.plain("wa_type_score_range", low=scale.lowest, high=scale.highest)
        return _list(body, texts.plain("wa_list_button"), rows, footer=footer, descriptions=ends)

    def range_list(self, data: str) -> dict[str, Any] | None:
        """The second tap's list for a range button's id; None when the id is not one."""
        parts = data.split(":", 5)
        if len(parts) != 6 or ":".join(parts[:2]) != RANGE_PREFIX:
            return None
        _, _, language, low, high, prefix = parts
        if not (low.isdigit() and high.isdigit() and _SCORE_DATA.match(f"{prefix}:0")):
            return None
        if not self.catalogs.supports(language):
            language = self.catalogs.resolve(None, None)
        texts = self.catalogs.texts(language)
        rows = [(f"{prefix}:{s}", str(s)) for s in range(int(low), min(int(high), 10) + 1)]
        if not rows:
            return None
        return _list(texts.plain("wa_pick_score"), texts.plain("wa_list_button"), rows)


def _link_line(button: Button) -> str:
    return f"{button.text}: {button.url}"
