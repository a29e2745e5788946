"""The WhatsApp emulator's shape, held to the same rules as bot/emulator's (the checks are
tests/emulator/test_structure.py's): imports point down its layers, with the parts it shares
with bot/emulator (bot/emulator_kit) at the bottom, modules stay short or say why, no module
reaches into another object's private members."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.emulator import test_structure as rules

PACKAGE = "bot.wa_emulator"
ROOT = Path(__file__).resolve().parents[2] / "bot" / "wa_emulator"
# Top to bottom, as in bot/wa_emulator/README.md; bot/emulator_kit's modules (the rules'
# KIT_LAYERS) sit below them all.
LAYERS = [
    "__main__",
    "control",
    "__init__",
    "server",
    "transport",
    "faults",
    "messaging",
    "customers",
    "validate",
    "templates",
    "webhooks",
    "media",
    "shapes",
    "models",
]


@pytest.fixture(autouse=True)
def _point_the_rules_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "PACKAGE", PACKAGE)
    monkeypatch.setattr(rules, "ROOT", ROOT)
    monkeypatch.setattr(rules, "LAYERS", LAYERS)


def test_imports_point_down_the_layers() -> None:
    rules.test_imports_point_down_the_layers()


def test_long_modules_say_why() -> None:
    rules.test_long_modules_say_why()


def test_no_module_reaches_into_private_members() -> None:
    rules.test_no_module_reaches_into_private_members()
