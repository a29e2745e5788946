"""Message templates "approved by Meta": registered in the emulator, checked on each
template send (unknown name or language → 132001, wrong body parameter count → 132000,
an empty parameter → 131008, a rendered body over 1024 characters → 132005)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.wa_emulator.models import ReplyButton
from bot.wa_emulator.shapes import cloud_error, param_error

_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
BODY_LIMIT = 1024
MAX_BUTTONS = 10
QUICK_REPLY_LIMIT = 25  # characters of a quick reply button's text


@dataclass(frozen=True)
class Template:
    """An approved template: its body with ``{{1}}``… placeholders and quick replies."""

    name: str
    language: str
    body: str
    quick_replies: tuple[str, ...] = ()
    category: str = "utility"  # utility, marketing, authentication

    @property
    def parameter_count(self) -> int:
        """How many distinct ``{{n}}`` placeholders the body has."""
        return len(set(_PLACEHOLDER.findall(self.body)))

    def render(self, parameters: list[str]) -> str:
        """The body with the placeholders filled in."""
        return _PLACEHOLDER.sub(lambda m: parameters[int(m.group(1)) - 1], self.body)


@dataclass
class TemplateStore:
    """Templates by (name, language)."""

    templates: dict[tuple[str, str], Template] = field(default_factory=dict)

    def register(
        self,
        name: str,
        language: str,
        body: str,
        quick_replies: list[str] | tuple[str, ...] = (),
        category: str = "utility",
    ) -> Template:
        """Add (or replace) an approved template."""
        numbers = sorted({int(n) for n in _PLACEHOLDER.findall(body)})
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("placeholders must be {{1}}, {{2}}, … without gaps")
        if len(quick_replies) > MAX_BUTTONS:
            raise ValueError(f"a template has at most {MAX_BUTTONS} buttons")
        if any(not 1 <= len(q) <= QUICK_REPLY_LIMIT for q in quick_replies):
            raise ValueError(f"quick reply texts are 1–{QUICK_REPLY_LIMIT} characters")
        template = Template(name, language, body, tuple(quick_replies), category)
        self.templates[(name, language)] = template
        return template

    def find(self, name: str, language: str) -> Template | None:
        """A registered template."""
        return self.templates.get((name, language))

    def check(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The ``BusinessMessage`` fields of a valid ``template`` object."""
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise param_error("Param template['name'] is required.")
        language = raw.get("language")
        code = language.get("code") if isinstance(language, dict) else None
        if not isinstance(code, str) or not code:
            raise param_error("Param template['language']['code'] is required.")
        template = self.find(name, code)
        if template is None:
            raise cloud_error(132001, f"template name ({name}) does not exist in {code}")
        components = raw.get("components", [])
        if not isinstance(components, list):
            raise param_error("Param template['components'] must be an array.")
        parameters: list[str] = []
        payloads: dict[int, str] = {}
        for component in components:
            if not isinstance(component, dict):
                raise param_error("Param template['components'][] must be a JSON object.")
            kind = component.get("type")
            if kind == "body":
                parameters = _text_parameters(component.get("parameters", []))
            elif kind == "button":
                index, payload = _quick_reply_payload(component)
                payloads[index] = payload
        if len(parameters) != template.parameter_count:
            raise cloud_error(
                132000,
                f"body: number of localizable_params ({len(parameters)}) does not match the "
                f"expected number of params ({template.parameter_count})",
            )
        extra = sorted(i for i in payloads if not 0 <= i < len(template.quick_replies))
        if extra:
            raise cloud_error(131009, f"Button at index {extra[0]} is not in the template")
        text = template.render(parameters)
        if len(text) > BODY_LIMIT:
            raise cloud_error(132005)
        buttons = [
            ReplyButton(payloads.get(i, title), title)
            for i, title in enumerate(template.quick_replies)
        ]
        return {
            "template": name,
            "language": code,
            "parameters": parameters,
            "text": text,
            "buttons": buttons,
        }


def _text_parameters(raw: Any) -> list[str]:
    if not isinstance(raw, list):
        raise param_error("Param template['components'][]['parameters'] must be an array.")
    values = []
    for parameter in raw:
        if not isinstance(parameter, dict) or parameter.get("type") != "text":
            raise cloud_error(132012, "Parameter format does not match format in the template")
        text = parameter.get("text")
        if not isinstance(text, str) or not text.strip():
            raise cloud_error(131008, "Parameter of type text is missing text value")
        values.append(text)
    return values


def _quick_reply_payload(component: dict[str, Any]) -> tuple[int, str]:
    if component.get("sub_type") != "quick_reply":
        raise param_error("Param template['components'][]['sub_type'] must be QUICK_REPLY.")
    try:
        index = int(component.get("index", ""))
    except (TypeError, ValueError):
        raise param_error("Param template['components'][]['index'] is required.") from None
    parameters = component.get("parameters")
    if not isinstance(parameters, list) or len(parameters) != 1:
        raise cloud_error(131008, "Button at index " + str(index) + " needs one parameter")
    payload = parameters[0].get("payload") if isinstance(parameters[0], dict) else None
    if not isinstance(payload, str) or not payload:
        raise cloud_error(131008, "Parameter of type payload is missing payload value")
    return index, payload
