"""Settings: defaults, parsing and one-line errors."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name in ("BOT_TOKEN", "DATABASE_URL", "ADMIN_IDS", "TELEGRAM_API_URL", "BOT_FRAMEWORK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here


def test_defaults_match_the_documented_contract() -> None:
    settings = load_settings(require_token=False)
    assert settings.database_url == "sqlite+aiosqlite:///./npsbot.db"
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.bot_framework == "aiogram"
    assert settings.admin_ids == []


def test_env_file_and_admin_list(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("BOT_TOKEN=1:abc\nADMIN_IDS= 12, 34 ,\nBOT_FRAMEWORK=PTB\n")
    settings = load_settings()
    assert settings.admin_ids == [12, 34] and settings.bot_framework == "ptb"


def test_errors_are_single_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as missing:
        load_settings()
    monkeypatch.setenv("BOT_TOKEN", "1:abc")
    monkeypatch.setenv("ADMIN_IDS", "1,two")
    with pytest.raises(SettingsError) as bad_ids:
        load_settings()
    for error in (missing.value, bad_ids.value):
        assert "\n" not in str(error)
    assert "@BotFather" in str(missing.value)
    assert "ADMIN_IDS" in str(bad_ids.value)
