"""The Bot API method table (from ``api_methods.json``) and request parameter validation."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bot.emulator.models import FileInfo, bad_request

METHODS_FILE = Path(__file__).with_name("api_methods.json")

# Parameters removed from the documentation that the real API still accepts and that both
# client libraries may send; rejecting them would be a false alarm.
LEGACY_REPLY = {
    "reply_to_message_id": {"type": "Integer", "required": False},
    "allow_sending_without_reply": {"type": "Boolean", "required": False},
}
LEGACY_PREVIEW = {"disable_web_page_preview": {"type": "Boolean", "required": False}}

_INT_RE = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class MethodSpec:
    """One method: its canonical name and its parameters ``{name: {"type", "required"}}``."""

    name: str
    params: dict[str, dict[str, Any]]


class ApiSpec:
    """Case-insensitive method lookup plus parameter coercion and validation."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = data.get("version", "?")
        self.methods: dict[str, MethodSpec] = {}
        for name, params in data["methods"].items():
            merged = dict(params)
            if "reply_parameters" in params:
                merged = {**LEGACY_REPLY, **merged}
            if "link_preview_options" in params:
                merged = {**LEGACY_PREVIEW, **merged}
            self.methods[name.lower()] = MethodSpec(name, merged)

    @classmethod
    def load(cls, path: Path = METHODS_FILE) -> ApiSpec:
        """Load the shipped (or another) ``api_methods.json``."""
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def lookup(self, method: str) -> MethodSpec | None:
        """Find a method by name, ignoring case like the real API."""
        return self.methods.get(method.lower())

    def validate(
        self, spec: MethodSpec, raw: dict[str, Any], files: dict[str, FileInfo]
    ) -> dict[str, Any]:
        """Coerce ``raw`` to the documented types; raise ``ApiError`` like the real API."""
        attached = {
            value.removeprefix("attach://")
            for value in _iter_strings(raw)
            if value.startswith("attach://")
        }
        for name in list(files):
            if name in spec.params and name not in raw:
                raw[name] = files[name]
            elif name not in attached and name not in spec.params:
                raise bad_request(f'unknown parameter "{name}"')
        for name in raw:
            if name not in spec.params:
                raise bad_request(f'unknown parameter "{name}"')
        result: dict[str, Any] = {}
        for name, info in spec.params.items():
            value = raw.get(name)
            if value is None or value == "":
                if info["required"]:
                    raise bad_request(_missing_message(spec.name, name))
                continue
            result[name] = _coerce(name, info["type"], value, files)
        return result


@cache
def default_spec() -> ApiSpec:
    """The spec shipped with the package (parsed once per process)."""
    return ApiSpec.load()


def _missing_message(method: str, name: str) -> str:
    if name == "text" and method in ("sendMessage", "editMessageText"):
        return "message text is empty"
    if name == "chat_id":
        return "chat_id is empty"
    return f"{name} is required"


def _iter_strings(value: Any) -> list[str]:
    """All string leaves of a (possibly JSON-encoded) parameter tree, to find attach:// refs."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            found.append(item)
            if item[:1] in "[{":
                try:
                    stack.append(json.loads(item))
                except ValueError:
                    pass
    return found


def _type_error(name: str, type_name: str) -> Exception:
    return bad_request(f'parameter "{name}" must be of type {type_name}')


def _coerce(name: str, type_name: str, value: Any, files: dict[str, FileInfo]) -> Any:
    """Convert one value the way the Bot API's loose parameter parsing does."""
    if type_name == "Integer":
        return _to_int(name, value, type_name)
    if type_name == "Float":
        if isinstance(value, bool):
            raise _type_error(name, type_name)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _type_error(name, type_name) from None
    if type_name == "Boolean":
        return _to_bool(name, value)
    if type_name == "String":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if not isinstance(value, str):
            raise _type_error(name, type_name)
        return value
    if type_name == "Integer or String":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            return int(value) if _INT_RE.match(value.strip()) else value
        raise _type_error(name, type_name)
    if type_name in ("InputFile", "InputFile or String"):
        if isinstance(value, FileInfo):
            return value
        if isinstance(value, str):
            if value.startswith("attach://"):
                key = value.removeprefix("attach://")
                if key not in files:
                    raise bad_request(f"wrong file identifier/HTTP URL specified for {name}")
                return files[key]
            if type_name == "InputFile":
                raise bad_request(f"{name} must be uploaded as a file")
            return value
        raise _type_error(name, type_name)
    # Objects and arrays: form bodies carry them JSON-encoded.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            if name == "reply_markup":
                raise bad_request("can't parse reply keyboard markup JSON object") from None
            raise bad_request(f"can't parse {name} JSON object") from None
    if type_name.startswith("Array of"):
        if not isinstance(value, list):
            raise bad_request(f"can't parse {name} JSON array")
        if type_name == "Array of String" and not all(isinstance(v, str) for v in value):
            raise _type_error(name, type_name)
        if type_name == "Array of Integer":
            return [_to_int(name, v, type_name) for v in value]
        return value
    if not isinstance(value, dict):
        if name == "reply_markup":
            raise bad_request("can't parse reply keyboard markup JSON object")
        raise bad_request(f"can't parse {name} JSON object")
    return value


def _to_int(name: str, value: Any, type_name: str) -> int:
    if isinstance(value, bool):
        raise _type_error(name, type_name)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    raise _type_error(name, type_name)


def _to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
    raise _type_error(name, "Boolean")
