"""The ``/messages`` body, checked as the Cloud API checks it, turned into the fields of a
``BusinessMessage``. Limits: text 4096; interactive body 1024, header/footer 60; reply
buttons 1–3, title 1–20, id 1–256, unique; list label 1–20, 1–10 sections, rows 1–10 in
all, row title 24, description 72, id 200, section title 24 (required with several)."""

from __future__ import annotations

import re
from typing import Any

from bot.wa_emulator.models import CloudApiError, ListRow, ReplyButton
from bot.wa_emulator.shapes import cloud_error, invalid_value, param_error
from bot.wa_emulator.templates import TemplateStore

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
BODY_LIMIT = 1024
HEADER_LIMIT = 60
FOOTER_LIMIT = 60
MAX_BUTTONS = 3
BUTTON_TITLE_LIMIT = 20
BUTTON_ID_LIMIT = 256
LIST_BUTTON_LIMIT = 20
MAX_SECTIONS = 10
MAX_ROWS = 10
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
ROW_ID_LIMIT = 200
SECTION_TITLE_LIMIT = 24

MEDIA_TYPES = {"image", "document", "audio", "video", "sticker"}
TYPES = {"text", "interactive", "template", "reaction", "location", "contacts"} | MEDIA_TYPES
INTERACTIVE_TYPES = {
    "button", "list", "cta_url", "flow", "product", "product_list", "catalog_message",
    "location_request_message", "address_message", "call_permission_request",
}  # fmt: skip
_NOT_DIGITS = re.compile(r"[^\d]")


def _enum(name: str, allowed: set[str], got: Any) -> CloudApiError:
    options = ", ".join(sorted(a.upper() for a in allowed))
    return param_error(f'Param {name} must be one of {{{options}}} - got "{got}".')


def _text(value: Any, name: str, limit: int, *, required: bool = True) -> str:
    """A string parameter of Graph's classic checks (``(#100) Param … ``)."""
    if value is None:
        if required:
            raise param_error(f"Param {name} is required.")
        return ""
    if not isinstance(value, str):
        raise param_error(f"Param {name} must be a string.")
    if required and not value.strip():
        raise param_error(f"Param {name} is required.")
    if len(value) > limit:
        raise param_error(f"Param {name} must be at most {limit} characters long.")
    return value


def _length(value: Any, what: str, limit: int) -> str:
    """A string checked the WhatsApp way (``131009`` with ``<what> length invalid``)."""
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise invalid_value(f"{what} length invalid. Min length: 1, Max length: {limit}")
    return value


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        raise param_error(f"Param {name} is required.")
    if not isinstance(value, dict):
        raise param_error(f"Param {name} must be a JSON object.")
    return value


def recipient(body: dict[str, Any]) -> tuple[str, str]:
    """``to`` as given and its digits (the wa_id it resolves to)."""
    to = body.get("to")
    if to is None or to == "":
        raise param_error("The parameter to is required.")
    if not isinstance(to, str | int) or isinstance(to, bool):
        raise param_error("Param to must be a string.")
    digits = _NOT_DIGITS.sub("", str(to))
    if not 5 <= len(digits) <= 15:
        raise cloud_error(131009, f"Recipient phone number {to} is not valid")
    return str(to), digits


def check_envelope(body: dict[str, Any]) -> None:
    """``messaging_product`` and ``recipient_type``, common to every call."""
    product = body.get("messaging_product")
    if product is None:
        raise param_error("The parameter messaging_product is required.")
    if product != "whatsapp":
        raise _enum("messaging_product", {"whatsapp"}, product)
    kind = body.get("recipient_type", "individual")
    if kind not in ("individual", "group"):
        raise _enum("recipient_type", {"individual", "group"}, kind)


def parse_message(body: dict[str, Any], templates: TemplateStore) -> dict[str, Any]:
    """The fields of a ``BusinessMessage`` for a valid send body (CloudApiError otherwise)."""
    kind = body.get("type", "text")
    if kind not in TYPES:
        raise _enum("type", TYPES, kind)
    fields: dict[str, Any] = {"type": kind}
    if kind == "text":
        text = _object(body, "text")
        fields["text"] = _text(text.get("body"), "text['body']", TEXT_LIMIT)
        if not isinstance(text.get("preview_url", False), bool):
            raise param_error("Param text['preview_url'] must be a boolean.")
    elif kind == "interactive":
        fields.update(_interactive(_object(body, "interactive")))
    elif kind == "template":
        fields.update(templates.check(_object(body, "template")))
    elif kind in MEDIA_TYPES:
        fields.update(_media(kind, _object(body, kind)))
    elif kind == "reaction":
        reaction = _object(body, "reaction")
        _text(reaction.get("message_id"), "reaction['message_id']", 256)
        fields["text"] = _text(reaction.get("emoji", ""), "reaction['emoji']", 16, required=False)
    else:  # location, contacts: kept as sent
        _object(body, kind)
    return fields


def _media(kind: str, media: dict[str, Any]) -> dict[str, Any]:
    if ("id" in media) == ("link" in media):
        raise param_error(f"Param {kind} must have exactly one of id or link.")
    key = "id" if "id" in media else "link"
    _text(media[key], f"{kind}['{key}']", 2048)
    caption = ""
    if kind in ("image", "document", "video"):
        caption = _text(media.get("caption"), f"{kind}['caption']", CAPTION_LIMIT, required=False)
    elif "caption" in media:
        raise param_error(f"Param {kind}['caption'] is not supported for {kind} messages.")
    return {"text": caption, "media": dict(media)}


def _interactive(interactive: dict[str, Any]) -> dict[str, Any]:
    kind = interactive.get("type")
    if kind is None:
        raise param_error("Param interactive['type'] is required.")
    if kind not in INTERACTIVE_TYPES:
        raise _enum("interactive['type']", INTERACTIVE_TYPES, kind)
    fields: dict[str, Any] = {"interactive_type": kind}
    body = interactive.get("body")
    needs_body = kind in ("button", "list", "cta_url", "flow", "product_list")
    if body is None and needs_body:
        raise param_error("Param interactive['body'] is required.")
    if body is not None:
        if not isinstance(body, dict):
            raise param_error("Param interactive['body'] must be a JSON object.")
        fields["text"] = _text(body.get("text"), "interactive['body']['text']", BODY_LIMIT)
    if interactive.get("footer") is not None:
        footer = interactive["footer"]
        text = footer.get("text") if isinstance(footer, dict) else None
        fields["footer"] = _text(text, "interactive['footer']['text']", FOOTER_LIMIT)
    if interactive.get("header") is not None:
        fields["header"] = _header(interactive["header"], kind)
    action = interactive.get("action")
    if kind in ("button", "list") and not isinstance(action, dict):
        raise param_error("Param interactive['action'] is required.")
    if not isinstance(action, dict):
        return fields
    if kind == "button":
        fields["buttons"] = _buttons(action)
    elif kind == "list":
        fields["list_button"], fields["rows"] = _list(action)
    return fields


def _header(header: Any, kind: str) -> str:
    if not isinstance(header, dict):
        raise param_error("Param interactive['header'] must be a JSON object.")
    header_type = header.get("type")
    allowed = {"text", "image", "video", "document"} if kind == "button" else {"text"}
    if header_type not in allowed:
        raise _enum("interactive['header']['type']", allowed, header_type)
    if header_type == "text":
        return _text(header.get("text"), "interactive['header']['text']", HEADER_LIMIT)
    _media(header_type, _object(header, header_type))
    return f"[{header_type}]"


def _buttons(action: dict[str, Any]) -> list[ReplyButton]:
    raw = action.get("buttons")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BUTTONS:
        raise invalid_value(
            f"Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: {MAX_BUTTONS}"
        )
    buttons = []
    for item in raw:
        if not isinstance(item, dict) or item.get("type") != "reply":
            raise _enum(
                "interactive['action']['buttons'][]['type']", {"reply"}, _get(item, "type")
            )
        reply = item.get("reply")
        if not isinstance(reply, dict):
            raise param_error("Param interactive['action']['buttons'][]['reply'] is required.")
        button_id = _length(reply.get("id"), "Button id", BUTTON_ID_LIMIT)
        title = _length(reply.get("title"), "Button title", BUTTON_TITLE_LIMIT)
        buttons.append(ReplyButton(button_id, title))
    if len({b.id for b in buttons}) < len(buttons):
        raise invalid_value("Duplicate button id")
    if len({b.title for b in buttons}) < len(buttons):
        raise invalid_value("Duplicate button title")
    return buttons


def _list(action: dict[str, Any]) -> tuple[str, list[ListRow]]:
    label = _length(action.get("button"), "Button title", LIST_BUTTON_LIMIT)
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= MAX_SECTIONS:
        raise invalid_value(
            "Invalid sections count. Min allowed sections: 1, "
            f"Max allowed sections: {MAX_SECTIONS}"
        )
    rows: list[ListRow] = []
    for section in sections:
        if not isinstance(section, dict):
            raise param_error("Param interactive['action']['sections'][] must be a JSON object.")
        title = section.get("title")
        if title is None and len(sections) > 1:
            raise invalid_value("Section title is required when there are multiple sections")
        if title is not None:
            _length(title, "Section title", SECTION_TITLE_LIMIT)
        section_rows = section.get("rows")
        if not isinstance(section_rows, list) or not section_rows:
            raise invalid_value("Invalid rows count. Min allowed rows: 1")
        for row in section_rows:
            if not isinstance(row, dict):
                raise param_error(
                    "Param interactive['action']['sections'][]['rows'][] is invalid."
                )
            description = row.get("description")
            if description is not None:
                _length(description, "Row description", ROW_DESCRIPTION_LIMIT)
            rows.append(
                ListRow(
                    _length(row.get("id"), "Row id", ROW_ID_LIMIT),
                    _length(row.get("title"), "Row title", ROW_TITLE_LIMIT),
                    description or "",
                    title or "",
                )
            )
    if len(rows) > MAX_ROWS:
        raise invalid_value(f"Total row count exceed max allowed count: {MAX_ROWS}")
    if len({r.id for r in rows}) < len(rows):
        raise invalid_value("Duplicate row id")
    return label, rows


def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else None
