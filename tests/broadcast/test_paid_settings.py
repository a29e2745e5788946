"""BROADCAST_PAID: a BROADCAST_RATE above Telegram's free ~30/s needs it, and the start
refuses without it in one line that says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("BROADCAST_RATE", "BROADCAST_PAID", "DATABASE_URL", "TELEGRAM_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_TOKEN", "1:abc")
    monkeypatch.chdir(tmp_path)  # no .env here


def test_a_rate_above_the_free_limit_needs_broadcast_paid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BROADCAST_RATE", "31")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert "\n" not in message
    assert "BROADCAST_RATE" in message and "BROADCAST_PAID=true" in message
    assert "30/s" in message and "1000/s" in message
    monkeypatch.setenv("BROADCAST_PAID", "true")
    settings = load_settings()
    assert settings.broadcast_paid and settings.broadcast_rate == 31


def test_free_rates_and_the_paid_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.broadcast_rate == 30 and not settings.broadcast_paid  # the defaults
    monkeypatch.setenv("BROADCAST_PAID", "true")
    monkeypatch.setenv("BROADCAST_RATE", "1000")
    assert load_settings().broadcast_rate == 1000
    monkeypatch.setenv("BROADCAST_RATE", "1001")
    with pytest.raises(SettingsError, match="BROADCAST_RATE"):
        load_settings()
    monkeypatch.setenv("BROADCAST_PAID", "maybe")
    monkeypatch.setenv("BROADCAST_RATE", "30")
    with pytest.raises(SettingsError, match="BROADCAST_PAID"):
        load_settings()
