"""Parse ``parse_mode`` text (HTML, MarkdownV2, Markdown) into plain text and entities.

Follows the rules and error wording of Telegram's own parser (tdlib ``MessageEntity.cpp``)
closely enough that a bot which sends malformed markup fails here the way it would in
production. Entity offsets and lengths are in UTF-16 code units, like the real API.
"""

# size: three parsers (HTML, MarkdownV2, Markdown) that share one entity builder and tdlib's
# error wording; apart, each would repeat those rules or hide them in a fourth module.

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# tag → entity type; the alias tags are the ones the Bot API documents.
HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
MARKDOWN_V2_RESERVED = set("_*[]()~`>#+-=|{}.!\\")


class EntityParseError(ValueError):
    """Raised for markup the real Bot API rejects with "can't parse entities"."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (the unit of entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Builder:
    """Accumulates plain text and tracks its UTF-16 length as it grows."""

    parts: list[str] = field(default_factory=list)
    length: int = 0
    entities: list[dict[str, Any]] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += utf16_len(text)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        # Telegram drops empty entities silently instead of failing.
        if self.length > start:
            self.entities.append({"type": kind, "offset": start, "length": self.length - start})
            self.entities[-1].update({k: v for k, v in extra.items() if v is not None})

    def since(self, start: int) -> str:
        """The text added after UTF-16 offset ``start``."""
        text = "".join(self.parts)
        return text.encode("utf-16-le")[start * 2 :].decode("utf-16-le")

    def result(self) -> tuple[str, list[dict[str, Any]]]:
        for entity in self.entities:
            entity.pop("_language", None)
        ordered = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), ordered


def strip_formatted(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace as Telegram does, shifting and clipping entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    result = []
    for entity in entities:
        begin = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > begin:
            result.append({**entity, "offset": begin, "length": end - begin})
    return stripped, result


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _unclosed(text: str, tag_start: int) -> EntityParseError:
    return EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, tag_start)}")


def _parse_attributes(text: str, pos: int, tag: str, tag_start: int) -> tuple[dict[str, str], int]:
    """Parse ``name="value"`` pairs up to ``>``; return them and the index after ``>``."""
    attrs: dict[str, str] = {}
    n = len(text)
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            raise _unclosed(text, tag_start)
        if text[pos] == ">":
            return attrs, pos + 1
        name_start = pos
        while pos < n and (text[pos].isalnum() or text[pos] in "-_"):
            pos += 1
        name = text[name_start:pos].lower()
        if not name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {_byte_offset(text, pos)}'
            )
        while pos < n and text[pos].isspace():
            pos += 1
        if pos < n and text[pos] != "=":
            # A bare attribute such as <blockquote expandable>.
            attrs[name] = ""
            continue
        if pos >= n:
            raise _unclosed(text, tag_start)
        pos += 1
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            raise _unclosed(text, tag_start)
        if text[pos] in "\"'":
            quote = text[pos]
            end = text.find(quote, pos + 1)
            if end < 0:
                raise EntityParseError(
                    f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, tag_start)}'
                )
            raw = text[pos + 1 : end]
            pos = end + 1
        else:
            value_start = pos
            while pos < n and not text[pos].isspace() and text[pos] != ">":
                pos += 1
            raw = text[value_start:pos]
        attrs[name] = _unescape_html(raw)


def _unescape_html(text: str) -> str:
    """Decode the entities Telegram understands; anything else stays literal."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "&":
            decoded, consumed = _decode_entity(text, i)
            if consumed:
                out.append(decoded)
                i += consumed
                continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _decode_entity(text: str, i: int) -> tuple[str, int]:
    """Decode ``&name;`` / ``&#N;`` / ``&#xH;`` at ``i``; ``("", 0)`` when it is not one."""
    end = text.find(";", i + 1, i + 12)
    if end < 0:
        return "", 0
    body = text[i + 1 : end]
    if body in HTML_ENTITIES:
        return HTML_ENTITIES[body], end - i + 1
    try:
        if body[:2].lower() == "#x":
            return chr(int(body[2:], 16)), end - i + 1
        if body[:1] == "#":
            return chr(int(body[1:])), end - i + 1
    except (ValueError, OverflowError):
        return "", 0
    return "", 0


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Bot API HTML into ``(plain_text, entities)``; raise ``EntityParseError``."""
    out = _Builder()
    # Open tags: (tag name, entity start, attributes).
    stack: list[tuple[str, int, dict[str, str]]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "&":
            decoded, consumed = _decode_entity(text, i)
            if consumed:
                out.add(decoded)
                i += consumed
                continue
            out.add(ch)
            i += 1
            continue
        if ch != "<":
            j = i
            while j < n and text[j] not in "<&":
                j += 1
            out.add(text[i:j])
            i = j
            continue
        tag_start = i
        if i + 1 < n and text[i + 1] == "/":
            if not stack:
                raise EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(text, tag_start)}"
                )
            # Like tdlib: the name runs to whitespace or ">", and "</>" closes any tag.
            j = i + 2
            while j < n and not text[j].isspace() and text[j] != ">":
                j += 1
            name = text[i + 2 : j].lower()
            while j < n and text[j].isspace():
                j += 1
            if j >= n or text[j] != ">":
                raise EntityParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(text, tag_start)}"
                )
            open_name, start, attrs = stack.pop()
            if name and name != open_name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, tag_start)}, "
                    f'expected "</{open_name}>", found "</{name}>"'
                )
            _close_tag(out, open_name, start, attrs)
            i = j + 1
            continue
        j = i + 1
        while j < n and not text[j].isspace() and text[j] != ">":
            j += 1
        if j >= n:
            raise _unclosed(text, tag_start)
        name = text[i + 1 : j].lower()
        if name not in HTML_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, tag_start)}'
            )
        attrs, i = _parse_attributes(text, j, name, tag_start)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(text, tag_start)}"
            )
        stack.append((name, out.length, attrs))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _close_tag(out: _Builder, name: str, start: int, attrs: dict[str, str]) -> None:
    kind = HTML_TAGS[name]
    if kind == "text_link":
        href = attrs.get("href", "")
        if href.startswith("tg://user?id="):
            user_id = href.removeprefix("tg://user?id=")
            if user_id.isdigit():
                out.entity(
                    "text_mention",
                    start,
                    user={"id": int(user_id), "is_bot": False, "first_name": ""},
                )
                return
        # Without href tdlib links the anchor text itself.
        url = href or out.since(start)
        if url:
            out.entity("text_link", start, url=url)
        return
    if kind == "code":
        # Remember the language so an enclosing <pre> can take it over.
        language = attrs.get("class", "").removeprefix("language-") or None
        out.entity("code", start, _language=language)
        return
    if kind == "pre":
        # <pre><code class="language-x">…</code></pre> is one pre entity with a language.
        language = None
        if out.entities:
            last = out.entities[-1]
            if (
                last["type"] == "code"
                and last["offset"] == start
                and last["length"] == out.length - start
            ):
                language = out.entities.pop().get("_language")
        out.entity("pre", start, language=language)
        return
    if kind == "blockquote":
        out.entity("expandable_blockquote" if "expandable" in attrs else "blockquote", start)
        return
    if kind == "custom_emoji":
        out.entity("custom_emoji", start, custom_emoji_id=attrs.get("emoji-id"))
        return
    out.entity(kind, start)


# --- MarkdownV2 -------------------------------------------------------------------------


_MD2_SIMPLE = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}


def parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse MarkdownV2 into ``(plain_text, entities)``; unescaped reserved chars fail."""
    out = _Builder()
    stack: list[tuple[str, int, int]] = []  # (marker, entity start, byte offset of marker)
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 < n and ord(text[i + 1]) <= 126:
                out.add(text[i + 1])
                i += 2
                continue
            out.add(ch)
            i += 1
            continue
        if ch == "`":
            if text.startswith("```", i):
                end = text.find("```", i + 3)
                if end < 0:
                    raise EntityParseError(
                        f"Can't find end of Pre entity at byte offset {_byte_offset(text, i)}"
                    )
                body = text[i + 3 : end]
                language = None
                if "\n" in body and body.split("\n", 1)[0].strip():
                    language, body = body.split("\n", 1)
                    language = language.strip()
                elif body.startswith("\n"):
                    body = body[1:]
                start = out.length
                out.add(_md2_unescape_code(body))
                out.entity("pre", start, language=language)
                i = end + 3
                continue
            end = text.find("`", i + 1)
            if end < 0:
                raise EntityParseError(
                    f"Can't find end of Code entity at byte offset {_byte_offset(text, i)}"
                )
            start = out.length
            out.add(_md2_unescape_code(text[i + 1 : end]))
            out.entity("code", start)
            i = end + 1
            continue
        marker = text[i : i + 2] if text[i : i + 2] in ("__", "||") else ch
        if marker in _MD2_SIMPLE:
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                out.entity(_MD2_SIMPLE[marker], start)
            else:
                stack.append((marker, out.length, _byte_offset(text, i)))
            i += len(marker)
            continue
        if ch == "[":
            stack.append(("[", out.length, _byte_offset(text, i)))
            i += 1
            continue
        if ch == "]" and stack and stack[-1][0] == "[":
            _, start, _ = stack.pop()
            if i + 1 < n and text[i + 1] == "(":
                end = text.find(")", i + 2)
                if end < 0:
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, i + 1)}"
                    )
                url = re.sub(r"\\(.)", r"\1", text[i + 2 : end])
                out.entity("text_link", start, url=url)
                i = end + 1
            else:
                i += 1
            continue
        if ch == ">" and (i == 0 or text[i - 1] == "\n"):
            # Blockquote line marker; the quote runs to the end of the line.
            line_end = text.find("\n", i)
            line_end = n if line_end < 0 else line_end
            start = out.length
            inner_text, inner = parse_markdown_v2(text[i + 1 : line_end])
            for entity in inner:
                entity["offset"] += start
                out.entities.append(entity)
            out.add(inner_text)
            out.entity("blockquote", start)
            i = line_end
            continue
        if ch in MARKDOWN_V2_RESERVED:
            raise EntityParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        out.add(ch)
        i += 1
    if stack:
        marker, _, offset = stack[-1]
        names = {
            "*": "Bold",
            "_": "Italic",
            "__": "Underline",
            "~": "Strikethrough",
            "||": "Spoiler",
            "[": "TextUrl",
        }
        raise EntityParseError(f"Can't find end of {names[marker]} entity at byte offset {offset}")
    return out.result()


def _md2_unescape_code(text: str) -> str:
    return re.sub(r"\\([`\\])", r"\1", text)


# --- legacy Markdown --------------------------------------------------------------------


def parse_markdown(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse legacy Markdown (``*bold*``, ``_italic_``, code, pre, links)."""
    out = _Builder()
    i, n = 0, len(text)
    kinds = {"*": "bold", "_": "italic"}
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in "*_`[":
            out.add(text[i + 1])
            i += 2
            continue
        if ch in kinds or ch == "`" or ch == "[":
            closing = {"[": "]"}.get(ch, ch)
            if text.startswith("```", i):
                end = text.find("```", i + 3)
                if end < 0:
                    raise EntityParseError(
                        "Can't find end of the entity starting at byte offset "
                        f"{_byte_offset(text, i)}"
                    )
                start = out.length
                out.add(text[i + 3 : end].lstrip("\n"))
                out.entity("pre", start)
                i = end + 3
                continue
            end = text.find(closing, i + 1)
            if end < 0:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            start = out.length
            out.add(text[i + 1 : end])
            if ch == "[":
                if end + 1 < n and text[end + 1] == "(":
                    url_end = text.find(")", end + 2)
                    if url_end < 0:
                        raise EntityParseError(
                            f"Can't find end of a URL at byte offset {_byte_offset(text, end + 1)}"
                        )
                    out.entity("text_link", start, url=text[end + 2 : url_end])
                    i = url_end + 1
                    continue
                i = end + 1
                continue
            out.entity(kinds.get(ch, "code"), start)
            i = end + 1
            continue
        out.add(ch)
        i += 1
    return out.result()


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Dispatch on ``parse_mode`` (case-insensitive, like the API); raise on unknown modes."""
    mode = (parse_mode or "").lower()
    if not mode:
        return text, []
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise ValueError(f"unsupported parse_mode {parse_mode!r}")
