"""The shipped method table matches the spec, and parameters are coerced like the real API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.emulator import ApiError, FileInfo
from bot.emulator.gen_methods import OUTPUT, generate
from bot.emulator.spec import default_spec

SCHEMA = Path(__file__).parents[2].parent / "shared/telegram/schema.json"


def test_shipped_methods_match_schema() -> None:
    """Regenerating api_methods.json from ../shared gives exactly the shipped file."""
    if not SCHEMA.exists():
        pytest.skip(f"../shared/telegram/schema.json not present: cannot regenerate ({SCHEMA})")
    assert generate(SCHEMA) == OUTPUT.read_text(encoding="utf-8")


def test_shipped_table_is_complete() -> None:
    """All 185 Bot API 10.2 methods with typed parameters are in the shipped file."""
    data = json.loads(OUTPUT.read_text(encoding="utf-8"))
    assert len(data["methods"]) == 185
    assert data["methods"]["sendMessage"]["chat_id"] == {
        "type": "Integer or String",
        "required": True,
    }


def test_lookup_is_case_insensitive() -> None:
    """Method names match regardless of case and come back in canonical spelling."""
    spec = default_spec()
    found = spec.lookup("SENDMESSAGE")
    assert found is not None and found.name == "sendMessage"
    assert spec.lookup("noSuchMethod") is None


def _validate(method: str, raw: dict, files: dict | None = None) -> dict:
    spec = default_spec()
    found = spec.lookup(method)
    assert found is not None
    return spec.validate(found, raw, files or {})


def test_form_strings_are_coerced() -> None:
    """Form values become ints, bools and decoded JSON according to the declared types."""
    params = _validate(
        "sendMessage",
        {
            "chat_id": "-100123",
            "text": "hi",
            "disable_notification": "true",
            "reply_markup": '{"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]}',
        },
    )
    assert params["chat_id"] == -100123
    assert params["disable_notification"] is True
    assert params["reply_markup"]["inline_keyboard"][0][0]["text"] == "a"
    assert _validate("sendMessage", {"chat_id": "@staff", "text": "x"})["chat_id"] == "@staff"
    assert _validate("getUpdates", {"allowed_updates": '["message"]'}) == {
        "allowed_updates": ["message"]
    }


@pytest.mark.parametrize(
    ("method", "raw", "expected"),
    [
        ("sendMessage", {"chat_id": 1}, "Bad Request: message text is empty"),
        ("sendMessage", {"text": "x"}, "Bad Request: chat_id is empty"),
        ("getFile", {}, "Bad Request: file_id is required"),
        ("getMe", {"foo": "1"}, 'Bad Request: unknown parameter "foo"'),
        ("getUpdates", {"offset": "abc"}, 'parameter "offset" must be of type Integer'),
        ("sendMessage", {"chat_id": 1, "text": "x", "protect_content": "maybe"}, "Boolean"),
        ("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": "{"}, "reply keyboard"),
    ],
)
def test_invalid_parameters_are_rejected(method: str, raw: dict, expected: str) -> None:
    """Missing, unknown and mistyped parameters give 400 with the API's wording."""
    with pytest.raises(ApiError) as caught:
        _validate(method, raw)
    assert caught.value.status == 400
    assert expected in caught.value.description


def test_legacy_parameters_are_accepted() -> None:
    """Undocumented but still honoured parameters (reply_to_message_id …) pass."""
    params = _validate(
        "sendMessage",
        {"chat_id": 1, "text": "x", "reply_to_message_id": "5", "disable_web_page_preview": "1"},
    )
    assert params["reply_to_message_id"] == 5
    assert params["disable_web_page_preview"] is True


def test_attached_files_resolve() -> None:
    """``attach://name`` refers to a multipart file part; a stray part is an unknown param."""
    upload = FileInfo("a.txt", "text/plain", b"x")
    params = _validate("sendDocument", {"chat_id": 1, "document": "attach://f1"}, {"f1": upload})
    assert params["document"] is upload
    params = _validate("sendDocument", {"chat_id": 1}, {"document": upload})
    assert params["document"] is upload
    with pytest.raises(ApiError, match="unknown parameter"):
        _validate("sendDocument", {"chat_id": 1, "document": "x"}, {"stray": upload})
