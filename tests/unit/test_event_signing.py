"""Issue 11, signed events: the signature (a known vector, computed here independently),
its verification against every bad input, the backoff schedule, the body and the URL as
chats and logs show it."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from bot.events.delivery import Backoff, body_of
from bot.events.signing import HEADER, sign, signature, verify
from nps.event_data import moment, shown_url
from storage.repos.events import Claimed

SECRET = "whsec_5f1d0c"
BODY = b'{"id":"4a7c","type":"response.scored","data":{"score":9,"why":"\xc3\xbc"}}'
T = 1_767_225_600  # 2026-01-01T00:00:00Z


def test_the_header_is_t_and_the_hex_hmac_sha256_of_t_dot_body() -> None:
    expected = hmac.new(b"whsec_5f1d0c", b"1767225600." + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, BODY, T) == expected
    assert sign(SECRET, BODY, T) == f"t=1767225600,v1={expected}"
    assert HEADER == "Npsbot-Signature"
    # A fixed vector, so an accidental change of the scheme (key, separator) shows here.
    assert signature("secret", b"{}", 1) == hmac.new(b"secret", b"1.{}", "sha256").hexdigest()


def test_a_good_signature_verifies_within_the_tolerance_only() -> None:
    header = sign(SECRET, BODY, T)
    assert verify(SECRET, BODY, header, now=T)
    assert verify(SECRET, BODY, header, now=T + 300)
    assert verify(SECRET, BODY, header, now=T - 300)  # a receiver's clock a little behind
    assert not verify(SECRET, BODY, header, now=T + 301)  # stale: a replay is refused
    assert not verify(SECRET, BODY, header, now=T - 301)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"v1={signature(SECRET, BODY, T)}",  # no t
        f"t={T}",  # no signature
        f"t=abc,v1={signature(SECRET, BODY, T)}",  # t not a number
        f"t={T},v1={signature('another secret', BODY, T)}",  # another key
        f"t={T + 1},v1={signature(SECRET, BODY, T)}",  # t changed after signing
        f"t={T},v0={signature(SECRET, BODY, T)}",  # an unknown scheme
        f"t={T},v1={signature(SECRET, BODY, T)[:-1]}",  # cut short
        f"t={T},v1=ünïcode",  # non-ASCII (compare_digest on str would raise)
    ],
)
def test_anything_else_is_refused(header: str | None) -> None:
    assert not verify(SECRET, BODY, header, now=T)


def test_a_changed_body_is_refused_and_rotation_accepts_either_secret() -> None:
    header = sign(SECRET, BODY, T)
    assert not verify(SECRET, BODY + b" ", header, now=T)
    assert not verify(SECRET, BODY.replace(b"9", b"1"), header, now=T)
    both = f"{header},v1={signature('new secret', BODY, T)}"
    assert verify(SECRET, BODY, both, now=T) and verify("new secret", BODY, both, now=T)


def test_backoff_doubles_from_one_second_up_to_an_hour_scaled_by_the_jitter() -> None:
    backoff = Backoff()
    assert [backoff.delay(n, 1.0) for n in range(1, 15)] == [
        1,
        2,
        4,
        8,
        16,
        32,
        64,
        128,
        256,
        512,
        1024,
        2048,
        3600,
        3600,
    ]
    assert backoff.delay(5, 0.25) == 4.0  # full jitter: anywhere in [0, cap]
    assert backoff.delay(5, 0.0) == 0.0
    assert backoff.delay(10_000, 1.0) == 3600.0  # no overflow after days of failures
    assert backoff.give_up_after.total_seconds() == 24 * 3600


def test_the_body_is_the_envelope_as_compact_utf8_json() -> None:
    claimed = Claimed(
        delivery_id=1,
        token="t",
        url="http://x/",
        attempts=0,
        event_id="0b7e",
        type="case.opened",
        created_at=datetime(2026, 12, 4, 17, 3, 5, 123456, tzinfo=UTC),
        data={"why": "Курьер опоздал", "score": 3},
    )
    body = body_of(claimed)
    assert (
        body
        == (
            '{"id":"0b7e","type":"case.opened","created_at":"2026-12-04T17:03:05.123Z",'
            '"data":{"why":"Курьер опоздал","score":3}}'
        ).encode()
    )
    assert json.loads(body)["data"]["why"] == "Курьер опоздал"
    assert moment(None) is None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://acme.bitrix24.ru/rest/1/s3cr3tt0ken/crm.timeline.comment.add.json",
            "https://acme.bitrix24.ru/…/crm.timeline.comment.add.json",
        ),
        ("https://crm.example.com/hooks/npsbot?token=abc123", "https://crm.example.com/…/npsbot"),
        ("https://user:pass@crm.example.com/npsbot", "https://crm.example.com/npsbot"),
        ("http://127.0.0.1:8081/a1b2c3d4", "http://127.0.0.1:8081/…"),
        ("https://crm.example.com", "https://crm.example.com/"),
    ],
)
def test_urls_are_shown_without_their_secrets(url: str, shown: str) -> None:
    assert shown_url(url) == shown
