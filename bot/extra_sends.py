"""Messages one action costs beyond one — a WhatsApp 0–10 question is two lists
(bot/whatsapp/questions.py) — paced by the senders that keep to a rate: `deliver`
(bot/broadcast/delivery.py) lends the port a gate that takes a token of its limiter before
each further message, so a broadcast, a reminder or an invitation keeps to WHATSAPP_RATE
in messages, not in actions.

A context variable carries the gate from the sender to the port without either knowing
the other; outside a paced sender (a conversation's reply) there is no gate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Gate = Callable[[], Awaitable[None]]
_GATE: ContextVar[Gate | None] = ContextVar("extra_sends_gate", default=None)


@contextmanager
def paced(gate: Gate) -> Iterator[None]:
    """Within the block, each further message of an action waits for `gate` first."""
    token = _GATE.set(gate)
    try:
        yield
    finally:
        _GATE.reset(token)


async def before_extra_send() -> None:
    """Waits for the sender's gate before a further message (at once when unpaced)."""
    gate = _GATE.get()
    if gate is not None:
        await gate()
