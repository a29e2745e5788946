"""Queued messages as Cloud API bodies, within WhatsApp's limits: HTML as WhatsApp's
markup, inline keyboards as reply buttons or a list, the 0–10 keyboard as two lists.

The 0–10 question: eleven scores fit neither 3 reply buttons nor a list (10 rows at
most), so the question goes as two list messages, one after the other: the question with
a list "0 – 5" (0 named "not at all likely"; the footer says a typed number works too),
then a short "…or from 6 to 10:" with a list "6 – 10" (10 named "extremely likely").
Any score is two taps — one opens its list, one chooses — or one typed number. The split
halves the scale in order and follows neither the detractor / passive / promoter groups
(0–6 / 7–8 / 9–10) nor any other reading of the scores, so neither list looks like the
expected answer. The rows carry the handlers' own callback data, so a choice is handled
as a Telegram button press. Only the first message is the question (its id is recorded);
the second is best-effort (questions.py `send_in_turn`).

Before that, the question carried three reply buttons "0 – 3", "4 – 7", "8 – 10" and a
tapped range sent a list of its scores (three touches). Such buttons in chats from before
the upgrade still work: `range_list` answers them (the button's id holds the language,
the range and the score buttons' callback prefix, so no state is needed).

A CSAT (1–5 ⭐) or CES (1–7) question needs one list: its scores fit (ten rows at most),
so the question itself carries it — one tap opens it, one chooses — with the scale's ends
named under the first and last rows; a typed number works too.
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
# The 0–10 question's two lists, in score order (not the NPS groups: see the docstring).
NPS_LISTS = ((0, 5), (6, 10))
# The old range buttons' ids (before the two lists): nps-wa:r:<language>:<low>:<high>:<prefix>
RANGE_PREFIX = "nps-wa:r"
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
        """True when the scale fits one list (CSAT, CES), the 0–10 one needing two."""
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

    def messages(
        self, markup_html: str, markup: Markup | None, language: str
    ) -> list[dict[str, Any]]:
        """The bodies of one SendText, in order: one message, or the 0–10 question's two
        lists (the first is the question)."""
        body = whatsapp_text(markup_html)
        if isinstance(markup, ReplyKeyboard):
            typed = [b.text for row in markup.rows for b in row if not b.share_contact]
            if not typed or len(typed) > MAX_BUTTONS:
                return [text_message(body)]
            return [_reply_buttons(body, [(TEXT_PREFIX + t, t) for t in typed], None)]
        if not isinstance(markup, Keyboard):
            return [text_message(body)]
        links = [b for row in markup.rows for b in row if b.url]
        if links:  # no hidden URL buttons on WhatsApp: the links follow the text
            body += "\n\n" + "\n".join(_link_line(b) for b in links)
        score = score_keyboard_of(markup)
        if score is not None:
            return self.score_question(body, score, language)
        choices = [(b.data, b.text) for row in markup.rows for b in row if b.data]
        if not choices:
            return [text_message(body)]
        if len(choices) <= MAX_BUTTONS and all(len(t) <= BUTTON_TITLE for _, t in choices):
            return [_reply_buttons(body, choices, None)]
        texts = self.catalogs.texts(language)
        return [_list(body, texts.plain("wa_list_button"), choices)]

    def message(self, markup_html: str, markup: Markup | None, language: str) -> dict[str, Any]:
        """The body of a SendText that is one message (anything but the 0–10 question)."""
        bodies = self.messages(markup_html, markup, language)
        if len(bodies) != 1:
            raise ValueError("the 0-10 question is two messages: use messages()")
        return bodies[0]

    def score_question(
        self, body: str, score: ScoreKeyboard, language: str
    ) -> list[dict[str, Any]]:
        """The score question's messages: a CSAT or CES question as one list, the 0–10
        question as two (`nps_lists`)."""
        if score.one_list:
            return [self.scale_list(body, score, language)]
        return self.nps_lists(body, score, language)

    def nps_lists(self, body: str, score: ScoreKeyboard, language: str) -> list[dict[str, Any]]:
        """The 0–10 question as two lists (the docstring's "0 – 5" and "6 – 10"): the first
        carries the question and offers a typed number, the second says "…or from 6 to 10";
        the scale's ends are named under 0 and 10."""
        texts = for_kind(self.catalogs.texts(language), score.kind, None, language)
        ends = {
            f"{score.prefix}:{NPS_LISTS[0][0]}": texts.plain("web_scale_low"),
            f"{score.prefix}:{NPS_LISTS[-1][1]}": texts.plain("web_scale_high"),
        }
        bodies = []
        for index, (low, high) in enumerate(NPS_LISTS):
            rows = [
                (f"{score.prefix}:{s}", score_label(score.kind, s)) for s in range(low, high + 1)
            ]
            first = index == 0
            bodies.append(
                _list(
                    body if first else texts.plain("wa_score_rest", low=low, high=high),
                    f"{low} – {high}",
                    rows,
                    footer=texts.plain("wa_type_score") if first else None,
                    descriptions=ends,
                )
            )
        return bodies

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
        """The list of an old range button's scores (a question sent before the two lists);
        None when the id is not one."""
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
