"""The callback-data codec: round trips, the 64-byte limit, and rejection of junk."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.callbacks import (
    LanguageChoice,
    MalformedCallback,
    ScoreChoice,
    SkipStep,
    is_ours,
    pack,
    unpack,
)


@given(st.integers(min_value=1, max_value=2**63 - 1), st.integers(min_value=0, max_value=10))
def test_score_round_trips_within_64_bytes(response_id: int, score: int) -> None:
    data = pack(ScoreChoice(response_id, score))
    assert len(data.encode()) <= 64
    assert unpack(data) == ScoreChoice(response_id, score)


@given(st.integers(min_value=1, max_value=2**63 - 1), st.sampled_from(["why", "improve"]))
def test_skip_round_trips(response_id: int, step: str) -> None:
    assert unpack(pack(SkipStep(response_id, step))) == SkipStep(response_id, step)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "garbage",
        "nps",
        "nps:",
        "nps:s",
        "nps:s:1",
        "nps:s:1:2:3",
        "nps:s:x:5",
        "nps:s:1:11",
        "nps:s:1:-1",
        "nps:zz:1",
        "nps:l:ru;drop",
        "nps:l:" + "x" * 60,
        "other:s:1:2",
    ],
)
def test_malformed_data_is_rejected(data: str | None) -> None:
    with pytest.raises(MalformedCallback):
        unpack(data)


@given(st.text(max_size=80))
def test_unpack_never_crashes_on_arbitrary_text(data: str) -> None:
    try:
        unpack(data)
    except MalformedCallback:
        pass


def test_only_prefixed_data_is_ours() -> None:
    assert is_ours(pack(LanguageChoice("ru")))
    assert not is_ours("host:menu") and not is_ours(None)


def test_packing_refuses_unsafe_or_oversized_values() -> None:
    with pytest.raises(ValueError):
        pack(LanguageChoice("ru:evil"))
    with pytest.raises(ValueError):
        pack(SkipStep(1, "x" * 70))
