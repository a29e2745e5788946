"""The rules for an invitation's attributes (storage/attributes.py): what is stored where,
and every bad input refused with the field it is about."""

from __future__ import annotations

from typing import Any

import pytest

from storage.attributes import (
    MAX_CUSTOM,
    NONE,
    Attributes,
    InvalidAttributes,
    parse_attributes,
    shown,
)


def test_tags_go_to_columns_and_the_rest_to_the_stored_attributes() -> None:
    parsed = parse_attributes(
        {
            "agent": " olga ",
            "source": "call",
            "campaign": "dec",
            "order_id": "A-17",
            "region": "north",
            "Tier_2": "gold",
            "empty": "  ",  # CRMs send empty fields: no value
        }
    )
    assert (parsed.agent, parsed.source, parsed.campaign) == ("olga", "call", "dec")
    assert parsed.stored() == {"order_id": "A-17", "Tier_2": "gold", "region": "north"}
    assert list(parsed.stored() or {}) == ["order_id", "Tier_2", "region"]
    assert parsed.columns(anonymous=False) == {
        "agent": "olga",
        "source": "call",
        "campaign": "dec",
        "attributes": {"order_id": "A-17", "Tier_2": "gold", "region": "north"},
    }
    # An eNPS answer gets none of them, whatever was sent.
    assert set(parsed.columns(anonymous=True).values()) == {None}


def test_nothing_sent_stores_nothing() -> None:
    assert parse_attributes(None) is NONE
    assert parse_attributes({}).stored() is None
    assert parse_attributes({"agent": "olga"}).stored() is None
    assert Attributes().columns(anonymous=False)["attributes"] is None


def test_at_most_twenty_custom_attributes() -> None:
    many = {f"k{i}": "v" for i in range(MAX_CUSTOM)}
    assert len(parse_attributes({**many, "order_id": "1", "agent": "a"}).custom) == MAX_CUSTOM
    with pytest.raises(InvalidAttributes) as error:
        parse_attributes({**many, "one_more": "v"})
    assert (error.value.field, error.value.reason) == (
        "attributes",
        "at most 20 custom attributes",
    )


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ({"region": 5}, "attributes.region", "must be a string"),
        ({"order_id": None}, "attributes.order_id", "must be a string"),
        ({"agent": ["olga"]}, "attributes.agent", "must be a string"),
        ({"agent": "a" * 65}, "attributes.agent", "is longer than 64 characters"),
        ({"campaign": "c" * 65}, "attributes.campaign", "is longer than 64 characters"),
        ({"order_id": "1" * 201}, "attributes.order_id", "is longer than 200 characters"),
        ({"region": "x" * 201}, "attributes.region", "is longer than 200 characters"),
        ({"region": "north\nsouth"}, "attributes.region", "must be one line of text"),
        ({"region": "a\x00b"}, "attributes.region", "must be one line of text"),
        ({"=cmd": "x"}, "attributes.=cmd", None),  # would title a column with a formula
        ({"-x": "x"}, "attributes.-x", None),
        ({"two words": "x"}, "attributes.two words", None),
        ({"": "x"}, "attributes.", None),
        ({"k" * 41: "x"}, "attributes." + "k" * 40, None),
        ({"régión": "x"}, "attributes.régión", None),
    ],
)
def test_a_bad_attribute_is_refused_naming_it(
    raw: dict[str, Any], field: str, reason: str | None
) -> None:
    with pytest.raises(InvalidAttributes) as error:
        parse_attributes(raw)
    assert error.value.field == field
    if reason is not None:
        assert error.value.reason == reason
    else:
        assert error.value.reason.startswith("keys are 1-40 letters, digits, '_' or '-'")


def test_attributes_must_be_an_object() -> None:
    with pytest.raises(InvalidAttributes) as error:
        parse_attributes(["agent", "olga"])  # type: ignore[arg-type]
    assert error.value.field == "attributes"


def test_shown_in_a_fixed_order_absent_ones_left_out() -> None:
    assert shown("olga", None, "dec", {"zone": "1", "order_id": "A-17", "area": "n"}) == [
        ("agent", "olga"),
        ("campaign", "dec"),
        ("order_id", "A-17"),
        ("area", "n"),
        ("zone", "1"),
    ]
    assert shown(None, None, None, None) == []
