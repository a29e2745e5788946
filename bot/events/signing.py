"""The events' signature: `Npsbot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`.

The HMAC (key: EVENTS_SECRET) is of `"<t>.<body>"`, the body's exact bytes. `t` is new on
every attempt, so a receiver can refuse a stale or replayed request (`verify`'s
`tolerance`) and still accept a retry. Pure functions: the delivery worker signs, a
receiver (the tests', the README's) verifies.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Npsbot-Signature"
SCHEME = "v1"
TOLERANCE = 300  # seconds a receiver accepts between `t` and its own clock


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of `"<timestamp>.<body>"` keyed with the secret."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header's value for a body sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},{SCHEME}={signature(secret, body, timestamp)}"


def verify(
    secret: str, body: bytes, header: str | None, *, now: float, tolerance: float = TOLERANCE
) -> bool:
    """True when the header signs this body with the secret, within `tolerance` seconds of
    `now`. Several `v1=` values are accepted (one per secret while rotating it)."""
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME:
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp)
    # Constant time, and every candidate compared (no early exit on the first match).
    # Bytes: compare_digest refuses str with non-ASCII characters (a forged header).
    matches = [hmac.compare_digest(expected.encode(), c.encode()) for c in candidates]
    return any(matches)
