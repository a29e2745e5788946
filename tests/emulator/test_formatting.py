"""parse_mode handling: the plain text a user sees, entities, and the API's parse errors."""

from __future__ import annotations

import pytest

from bot.emulator.formatting import (
    EntityParseError,
    parse_html,
    parse_markdown_v2,
    strip_formatted,
    utf16_len,
)


def test_html_tags_become_entities() -> None:
    """Supported tags turn into entities with UTF-16 offsets; entities are unescaped."""
    text, entities = parse_html(
        '😀 <b>Bold</b> <i>it</i> &lt;3 &amp; &quot;q&quot; <a href="https://x.y/?a=1&amp;b=2">'
        'link</a> <span class="tg-spoiler">s</span> <tg-spoiler>t</tg-spoiler>'
    )
    assert text == '😀 Bold it <3 & "q" link s t'
    kinds = [(e["type"], e["offset"], e["length"]) for e in entities]
    # The emoji is two UTF-16 code units, so "Bold" starts at 3.
    assert kinds[0] == ("bold", 3, 4)
    assert ("italic", 8, 2) in kinds
    link = next(e for e in entities if e["type"] == "text_link")
    assert link["url"] == "https://x.y/?a=1&b=2"
    assert [e["type"] for e in entities].count("spoiler") == 2


def test_html_pre_with_language_and_blockquote() -> None:
    """<pre><code class="language-x"> folds into one pre entity; blockquotes are kept."""
    text, entities = parse_html(
        '<pre><code class="language-python">x = 1</code></pre><blockquote>q</blockquote>'
    )
    assert text == "x = 1q"
    assert entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "blockquote", "offset": 5, "length": 1},
    ]


def test_html_anchor_without_href_and_short_end_tag() -> None:
    """<a> without href links its own text; "</>" closes the innermost tag, as in tdlib."""
    assert parse_html("<a>https://x.y</a> <b>b</>") == (
        "https://x.y b",
        [
            {"type": "text_link", "offset": 0, "length": 11, "url": "https://x.y"},
            {"type": "bold", "offset": 12, "length": 1},
        ],
    )


def test_strip_formatted_shifts_entities() -> None:
    """Surrounding whitespace is trimmed and entities move with the text."""
    text, entities = parse_html("\n  <b>Hi</b> there \n")
    assert strip_formatted(text, entities) == (
        "Hi there",
        [{"type": "bold", "offset": 0, "length": 2}],
    )


def test_html_unknown_entities_stay_literal() -> None:
    """Telegram keeps unknown &names; and bare ampersands as written."""
    assert parse_html("a & b &nbsp; &#65;&#x42;")[0] == "a & b &nbsp; AB"


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("a<br/>b", 'Unsupported start tag "br/" at byte offset 1'),
        ("<b>x</b ", "Unclosed end tag at byte offset 4"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
def test_malformed_html_is_rejected(html: str, error: str) -> None:
    """Malformed HTML fails with tdlib's wording."""
    with pytest.raises(EntityParseError) as caught:
        parse_html(html)
    assert error in str(caught.value)


def test_markdown_v2() -> None:
    """MarkdownV2 entities parse; escaped reserved characters are plain text."""
    text, entities = parse_markdown_v2(r"*b* _i_ __u__ ~s~ ||p|| `c` [l](https://x\.y) 9\.5\!")
    assert text == "b i u s p c l 9.5!"
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
    ]
    assert entities[-1]["url"] == "https://x.y"


def test_markdown_v2_unescaped_reserved_character() -> None:
    """An unescaped '.' is the classic MarkdownV2 mistake and is rejected."""
    with pytest.raises(EntityParseError, match=r"Character '\.' is reserved"):
        parse_markdown_v2("Thanks for your feedback.")
    with pytest.raises(EntityParseError, match="Can't find end of Bold entity"):
        parse_markdown_v2("*open")


def test_utf16_len() -> None:
    """Astral characters count as two units."""
    assert utf16_len("a😀") == 3
