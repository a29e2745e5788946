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


GOOD_TOKEN = "t" * 32


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"API_TOKEN": "short"}, "API_TOKEN"),
        ({"WEBHOOK_URL": "https://bot.example.com/tg"}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_URL": "bot.example.com/tg", "WEBHOOK_SECRET": "s3cret"}, "WEBHOOK_URL"),
        ({"WEBHOOK_URL": "https://b.example/tg", "WEBHOOK_SECRET": "has space"}, "WEBHOOK_SECRET"),
        ({"EVENTS_URLS": "https://crm.example/hook"}, "EVENTS_SECRET"),
        (
            {"EVENTS_URLS": "https://crm.example/a,ftp://x", "EVENTS_SECRET": "k" * 8},
            "EVENTS_URLS",
        ),
        ({"QUIET_HOURS": "21-9"}, "QUIET_HOURS"),
        ({"QUIET_HOURS": "09:00-09:00"}, "QUIET_HOURS"),
        ({"QUIET_HOURS": "25:00-07:00"}, "QUIET_HOURS"),
        ({"HTTP_PORT": "eighty"}, "HTTP_PORT"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN"),
        ({"POOL_SIZE": "0"}, "POOL_SIZE"),
        ({"POOL_SIZE": "500"}, "POOL_SIZE"),
    ],
)
def test_a_bad_http_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], named: str
) -> None:
    monkeypatch.setenv("BOT_TOKEN", "1:abc")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value).startswith(named) and "\n" not in str(error.value)


def test_http_settings_parse_into_what_the_server_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", "1:abc")
    assert not load_settings().http_enabled  # nothing asks for the server: it does not listen
    assert load_settings().quiet_window is not None  # 21:00-09:00 by default
    monkeypatch.setenv("API_TOKEN", GOOD_TOKEN)
    monkeypatch.setenv("EVENTS_URLS", " https://a.example/h , https://b.example/h ")
    monkeypatch.setenv("EVENTS_SECRET", "k" * 16)
    monkeypatch.setenv("QUIET_HOURS", "22:30-7:15")
    settings = load_settings()
    assert settings.http_enabled
    assert settings.events_urls == ["https://a.example/h", "https://b.example/h"]
    window = settings.quiet_window
    assert window is not None and (window[0].hour, window[0].minute) == (22, 30)
    assert (window[1].hour, window[1].minute) == (7, 15)
    monkeypatch.setenv("QUIET_HOURS", "off")
    assert load_settings().quiet_window is None


def test_metrics_token_alone_starts_the_server_and_pool_size_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOT_TOKEN", "1:abc")
    assert load_settings().pool_size == 20  # the default
    monkeypatch.setenv("METRICS_TOKEN", GOOD_TOKEN)
    monkeypatch.setenv("POOL_SIZE", "8")
    settings = load_settings()
    assert settings.http_enabled and settings.pool_size == 8
