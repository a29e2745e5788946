"""Issue 9, item 7: which replies the persisted outbox keeps, and that they come back whole."""

from __future__ import annotations

from pathlib import Path

from bot.outbox import MAX_KEPT_BYTES, dumps, keepable, loads
from handlers.port import (
    AnswerButton,
    Button,
    Download,
    EditText,
    Keyboard,
    Remember,
    RunLater,
    SendDocument,
    SendPhoto,
    SendText,
)
from handlers.respondent_messages import remember_prompt


async def _closure(store: object, message_id: int) -> None:
    return None


def test_replies_to_chats_come_back_equal_with_their_registered_after_send_jobs() -> None:
    keyboard = Keyboard.of([Button("Skip", "nps:k:1:why")], [Button("Review", url="https://x")])
    actions = [
        SendText(
            5,
            "<b>why?</b> ✓",
            keyboard,
            after=remember_prompt(41),
            if_unreachable=SendText(900, "could not reach"),
            if_sent=SendText(900, "sent ✓"),
        ),
        EditText(5, 17, "answered", None),
        SendDocument(5, "mydata-5.json", b'{"a": 1}', "your data"),
        SendPhoto(5, b"\x89PNG\r\n", "chart"),
    ]
    back = loads(dumps([keepable(a) for a in actions]))
    assert back == actions
    assert back[0].after == Remember("survey.prompt", (41,))


def test_ephemeral_and_unstorable_actions_are_sent_live_only() -> None:
    assert keepable(AnswerButton("q1", "ok")) is None
    assert keepable(RunLater(lambda reader, out: None)) is None  # type: ignore[arg-type,return-value]
    assert keepable(Download("f", 10, lambda *a: None, if_failed=None)) is None  # type: ignore[arg-type,return-value]
    assert keepable(SendDocument(5, "export.csv", Path("/tmp/export.csv"))) is None
    assert keepable(SendDocument(5, "big.csv", b"x" * (MAX_KEPT_BYTES + 1))) is None
    # A closure after-send job: the message is kept, the closure runs only when sent live.
    [back] = loads(dumps([keepable(SendText(5, "hello", after=_closure))]))
    assert back == SendText(5, "hello")
