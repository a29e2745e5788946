"""Long relayed texts cut into numbered messages within Telegram's limit, sent in a chain."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable

from handlers.port import Keyboard, SendText

# Telegram's limit: characters of text after entity parsing (counted in UTF-16 units).
TEXT_LIMIT = 4096
# Room kept for the "(k/n)" line under each part of a split relay.
_PART_MARK = len("\n(99/99)")


def _units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _visible(html_text: str) -> str:
    """The text Telegram shows for an HTML message (tags removed, entities decoded)."""
    return htmllib.unescape(re.sub(r"<[^>]*>", "", html_text))


def _chunks(text: str, room: int) -> list[str]:
    """`text` cut into pieces of at most `room` units, at a space or line break near the
    end of each piece when there is one; nothing is dropped."""
    chunks = []
    rest = text
    while _units(rest) > room:
        units = cut = 0
        for index, char in enumerate(rest):
            units += 2 if ord(char) > 0xFFFF else 1
            if units > room:
                break
            cut = index + 1
        gap = max(rest.rfind(" ", 0, cut), rest.rfind("\n", 0, cut))
        if gap >= cut * 3 // 4:
            cut = gap + 1
        chunks.append(rest[:cut])
        rest = rest[cut:]
    chunks.append(rest)
    return chunks


def split_relay(frame: Callable[[str], str], text: str) -> list[str]:
    """A relayed text as messages within Telegram's limit: `frame(piece)` renders one
    (the prefix, the piece, any footer); a text too long for one message is sent in parts
    numbered "(1/2)", "(2/2)", each part framed, nothing cut off."""
    whole = frame(text)
    if _units(_visible(whole).strip()) <= TEXT_LIMIT:
        return [whole]
    room = TEXT_LIMIT - _units(_visible(frame(""))) - _PART_MARK
    pieces = _chunks(text, max(room, 100))
    return [f"{frame(piece)}\n({k}/{len(pieces)})" for k, piece in enumerate(pieces, 1)]


def chain(
    chat_id: int,
    parts: list[str],
    *,
    done: SendText,
    failed: SendText,
    keyboard: Keyboard | None = None,
    outside_window: SendText | None = None,
) -> SendText:
    """The parts as one message that sends the next once delivered; `done` follows the
    last (which carries the keyboard), `failed` replaces whichever part is not delivered
    (and the rest); `outside_window`, when given, replaces it when WhatsApp refused the
    part for its 24-hour window."""
    message = done
    for index, part in enumerate(reversed(parts)):
        message = SendText(
            chat_id,
            part,
            keyboard if index == 0 else None,
            if_sent=message,
            if_unreachable=failed,
            if_outside_window=outside_window,
        )
    return message
