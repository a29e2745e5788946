"""Segments and contact lists as admins type them; numbers and durations as shown."""

from __future__ import annotations

import pytest

from bot.i18n import Catalogs
from handlers.audience import (
    SegmentError,
    describe_segment,
    parse_contacts,
    parse_segment,
)
from handlers.broadcast_messages import duration, number
from storage.repos.audience import Segment
from storage.repos.contacts import ContactRow


@pytest.mark.parametrize(
    ("text", "segment"),
    [
        ("", Segment()),
        ("everyone", Segment()),
        ("lang:RU", Segment(language="ru")),
        ("language:pl detractors", Segment(language="pl", group="detractor")),
        ("src:call-centre agent:olga", Segment(source="call-centre", agent="olga")),
        ("Promoters", Segment(group="promoter")),
        ("passive", Segment(group="passive")),
        ("never", Segment(never_answered=True)),
        ("lang:ru lang:ru", Segment(language="ru")),
    ],
)
def test_segments_are_read(text: str, segment: Segment) -> None:
    assert parse_segment(text) == segment
    assert parse_segment(describe_segment(segment)) == segment


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("vips", "vips"),
        ("lang:russian", "lang:russian"),
        ("source:a b", "b"),
        ("agent:", "agent:"),
        ("promoters detractors", "detractors"),
        ("lang:ru lang:pl", "lang:pl"),
        ("detractors never", "never"),
    ],
)
def test_a_bad_segment_names_the_term(text: str, term: str) -> None:
    with pytest.raises(SegmentError) as error:
        parse_segment(text)
    assert error.value.term == term


def test_a_contact_list_with_a_header_duplicates_and_bad_lines() -> None:
    text = "\n".join(
        [
            "name,id,lang",
            '"Doe, John",101,en-GB',
            "Anna,102,",
            "",
            "# a comment",
            "Bob,abc,en",
            "Ann,102,ru",
            "Zed,103,xyz1",
            "Max,0",
        ]
    )
    parsed = parse_contacts(text)
    assert parsed.rows == [
        ContactRow(101, "en", None, None, "Doe, John"),
        ContactRow(102, None, None, None, "Anna"),
    ]
    assert parsed.duplicates == 1
    assert [(p.line, p.key) for p in parsed.problems] == [
        (6, "imp_bad_id"),
        (8, "imp_bad_language"),
        (9, "imp_bad_id"),
    ]
    assert parsed.lines == 6


def test_positional_columns_with_semicolons_or_tabs() -> None:
    assert parse_contacts("1;ru;shop;olga;Olga").rows == [
        ContactRow(1, "ru", "shop", "olga", "Olga")
    ]
    assert parse_contacts("2\tpl\n3\t\tweb").rows == [
        ContactRow(2, "pl"),
        ContactRow(3, None, "web"),
    ]
    parsed = parse_contacts("4,en,a,b,c,d")
    assert [p.key for p in parsed.problems] == ["imp_bad_columns"]


def test_numbers_and_durations_follow_the_language() -> None:
    catalogs = Catalogs()
    en, ru = catalogs.texts("en"), catalogs.texts("ru")
    assert number(en, 1234567) == "1,234,567"
    assert number(ru, 10000) == "10\u00a0000"
    assert duration(en, 40.2) == "41 s"
    assert duration(en, 334) == "5 min 34 s"
    assert duration(en, 7500) == "2 h 5 min"
    assert duration(ru, 334) == "5 мин 34 с"
