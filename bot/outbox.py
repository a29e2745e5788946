"""Which queued replies are kept in the persisted outbox, and how they are stored.

A handler's replies are sent after its transaction commits; a crash (kill -9) between the
commit and the send used to lose them (the respondent scored and never got "why?"). Now
the replies that go to chats are written as JSON in the same transaction (one row per
unit of work, storage/repos/outbox.py), deleted once performed, and sent again at the
next start when a crash or a stop left them behind.

What is kept, generically (a new action type needs nothing here): every action with a
`chat_id` whose fields are plain data — strings, numbers, keyboards, nested actions
(`if_sent`, `if_unreachable`), bytes up to MAX_KEPT_BYTES (a /mydata file, a small
chart). Not kept: answers to button presses (ephemeral, and too old to answer after a
restart), deferred jobs and downloads (closures), files streamed from disk or larger
than MAX_KEPT_BYTES (an export is asked again). An `after` job is kept when it is a
`Remember` (a registered kind and its arguments); a plain closure there is dropped from
the stored copy, so it runs in the live path only.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
from typing import Any

from handlers import port
from handlers.port import Action

MAX_KEPT_BYTES = 64 * 1024


class NotKept(Exception):
    """The action holds something that cannot be stored (a closure, a file on disk)."""


@functools.cache
def _classes() -> dict[str, type]:
    """The dataclasses of handlers/port.py by name (actions, keyboards, Remember)."""
    return {
        name: value
        for name, value in vars(port).items()
        if isinstance(value, type) and dataclasses.is_dataclass(value)
    }


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _encode(value: Any, name: str | None = None) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, port.Keyboard):  # the most common nested value: kept compact
        return {"$k": [[[b.text, b.data, b.url] for b in row] for row in value.rows]}
    if isinstance(value, bytes):
        if len(value) > MAX_KEPT_BYTES:
            raise NotKept(f"{len(value)} bytes")
        return {"$b": base64.b64encode(value).decode()}
    if isinstance(value, tuple):
        return {"$t": [_encode(item) for item in value]}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    cls: type = type(value)
    if dataclasses.is_dataclass(value) and _classes().get(cls.__name__) is cls:
        encoded = {"$": cls.__name__}
        for field in _field_names(cls):
            encoded[field] = _encode(getattr(value, field), field)
        return encoded
    if name == "after" and callable(value):
        return None  # a closure: runs when sent live, not after a restart
    raise NotKept(type(value).__name__)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "$b" in value:
        return base64.b64decode(value["$b"])
    if "$t" in value:
        return tuple(_decode(item) for item in value["$t"])
    if "$k" in value:
        return port.Keyboard(
            tuple(tuple(port.Button(*button) for button in row) for row in value["$k"])
        )
    cls = _classes()[value["$"]]
    return cls(**{key: _decode(item) for key, item in value.items() if key != "$"})


def keepable(action: Action) -> Any | None:
    """The action as JSON-ready data when it goes to a chat and can be stored; else None."""
    if getattr(action, "chat_id", None) is None:
        return None
    try:
        return _encode(action)
    except NotKept:
        return None


def dumps(encoded: list[Any]) -> str:
    """The stored text of a unit of work's kept actions."""
    return json.dumps(encoded, ensure_ascii=False, separators=(",", ":"))


def loads(text: str) -> list[Action]:
    """Kept actions read back (an entry that no longer decodes is skipped)."""
    actions = []
    for item in json.loads(text):
        try:
            actions.append(_decode(item))
        except (KeyError, TypeError, ValueError):
            continue  # an action type renamed or removed since it was stored
    return actions
