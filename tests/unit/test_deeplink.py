"""Deep-link payloads: survey slug plus source / agent / campaign tags."""

from __future__ import annotations

import pytest

from handlers.deeplink import DeepLink, build_payload, parse_payload


def test_full_payload_is_split_into_tags() -> None:
    assert parse_payload("delivery__s-call__a-olga__c-spring") == DeepLink(
        raw="delivery__s-call__a-olga__c-spring",
        survey_slug="delivery",
        source="call",
        agent="olga",
        campaign="spring",
    )


def test_tags_without_survey_use_the_default() -> None:
    link = parse_payload("__a-ivan")
    assert link.valid and link.survey_slug is None and link.agent == "ivan"


@pytest.mark.parametrize("raw", ["bad payload", "x" * 65, "ok__q-unknown", "ok__s-", "опрос"])
def test_malformed_payloads_are_flagged(raw: str) -> None:
    link = parse_payload(raw)
    assert not link.valid and link.raw is not None and len(link.raw) <= 64


def test_build_is_the_inverse_of_parse() -> None:
    payload = build_payload("shop", source="web", agent="a1")
    link = parse_payload(payload)
    assert (link.survey_slug, link.source, link.agent) == ("shop", "web", "a1")
    with pytest.raises(ValueError):
        build_payload("shop", source="x" * 70)


def test_empty_payload_is_no_link() -> None:
    assert parse_payload(None) == DeepLink(raw=None) == parse_payload("")
