"""`npsbot run` as a real process on each runtime: any directory, clear errors, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.emulator import BotApiEmulator
from bot.settings import Settings
from storage.db import Database
from tests.e2e.conftest import QUESTION, TOKEN, responses_of


@pytest.fixture(params=["aiogram", "ptb"])
def framework(request: pytest.FixtureRequest) -> str:
    """BOT_FRAMEWORK of the process under test."""
    return str(request.param)


def _env(**values: str) -> dict[str, str]:
    """A clean environment: only PATH/HOME and the settings under test."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(values)
    return env


async def _npsbot(cwd: Path, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _one_line_failure(cwd: Path, env: dict[str, str]) -> str:
    """Runs `npsbot run` expecting exit code 2 with one line and no traceback."""
    process = await _npsbot(cwd, env, "run")
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    text = stderr.decode()
    lines = text.strip().splitlines()
    assert process.returncode == 2, text
    assert len(lines) == 1 and "Traceback" not in text, lines
    return lines[0]


async def test_run_from_another_directory_serves_a_respondent_and_stops_on_sigterm(
    api: BotApiEmulator, tmp_path: Path, framework: str
) -> None:
    db_path = tmp_path / "data" / "npsbot.db"
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = _env(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{db_path}",
        BRAND_NAME="Acme",
        BOT_FRAMEWORK=framework,
    )
    process = await _npsbot(workdir, env, "run")
    try:
        await api.wait_until(lambda: api.calls_for("getUpdates"), timeout=30)
        user = api.user(301, first_name="Zoe", language_code="en")
        user.send("/start")
        question = await user.wait_for_message(lambda m: QUESTION in m.text, timeout=10)
        user.press(question, "10")
        await user.wait_for_message(lambda m: "like most" in m.text)
        user.send("Friendly staff")
        await user.wait_for_message(lambda m: "even better" in m.text)
        user.send("Nothing")
        await user.wait_for_message(lambda m: m.text.startswith("Thank you, Zoe!"))
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert f"running on {framework}" in log
    assert TOKEN not in log  # the token never reaches the logs
    assert "Traceback" not in log and "DeprecationWarning" not in log
    assert not list(workdir.iterdir())
    menu = [c for c in api.calls_for("setMyCommands") if not c.params.get("language_code")]
    assert [c["command"] for c in menu[-1].params["commands"]][:2] == ["start", "help"]
    db = Database(f"sqlite+aiosqlite:///{db_path}")
    try:
        [response] = await responses_of(db, 301)
    finally:
        await db.dispose()
    assert (response.score, response.why, response.improve) == (10, "Friendly staff", "Nothing")


def test_a_missing_token_stops_the_process_with_one_line(tmp_path: Path) -> None:
    """The real process: exit code 2, one line on stderr, no traceback."""
    env = _env(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    line = asyncio.run(_one_line_failure(tmp_path, env))
    assert "BOT_TOKEN is not set: get a token from @BotFather" in line


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"BOT_TOKEN": "not-a-token"}, "BOT_TOKEN does not look like a bot token"),
        (
            {"BOT_TOKEN": TOKEN, "DATABASE_URL": "mysql://x/y"},
            "DATABASE_URL has an unsupported driver",
        ),
        ({"BOT_TOKEN": TOKEN, "ADMIN_IDS": "12,abc"}, "ADMIN_IDS is invalid"),
        ({"BOT_TOKEN": TOKEN, "BOT_FRAMEWORK": "telethon"}, "BOT_FRAMEWORK is invalid"),
        (
            {"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": "ftp://x"},
            "TELEGRAM_API_URL is not an http(s) URL",
        ),
        ({"BOT_TOKEN": TOKEN, "TIMEZONE": "Mars/Base"}, "TIMEZONE names no known zone"),
        ({"BOT_TOKEN": TOKEN, "API_TOKEN": "short"}, "API_TOKEN is shorter than 32 characters"),
        (
            {"BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://bot.example.com/tg"},
            "WEBHOOK_SECRET is not set (WEBHOOK_URL needs it)",
        ),
        (
            {"BOT_TOKEN": TOKEN, "EVENTS_URLS": "https://crm.example.com/hook"},
            "EVENTS_SECRET is not set (EVENTS_URLS needs it)",
        ),
        ({"BOT_TOKEN": TOKEN, "QUIET_HOURS": "nightly"}, "QUIET_HOURS is not a window"),
    ],
)
def test_bad_settings_stop_with_one_clear_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings: dict[str, str],
    expected: str,
) -> None:
    """`npsbot run`'s entry point, in this process: settings fail before anything starts
    (the process-level behaviour is the test above)."""
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in list(os.environ):
        if name.upper() in Settings.model_fields or name.lower() in Settings.model_fields:
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, lines
    assert expected in lines[0]


async def test_an_unreachable_api_is_one_line(tmp_path: Path, framework: str) -> None:
    env = _env(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL="http://127.0.0.1:9",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        BOT_FRAMEWORK=framework,
    )
    line = await _one_line_failure(tmp_path, env)
    assert "TELEGRAM_API_URL http://127.0.0.1:9 cannot be reached" in line
    assert TOKEN not in line


async def test_a_rejected_token_is_one_line(
    api: BotApiEmulator, tmp_path: Path, framework: str
) -> None:
    env = _env(
        BOT_TOKEN="999:WRONG",
        TELEGRAM_API_URL=api.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        BOT_FRAMEWORK=framework,
    )
    line = await _one_line_failure(tmp_path, env)
    assert "BOT_TOKEN was rejected" in line and "999:WRONG" not in line


async def test_an_unreachable_database_is_one_line(
    api: BotApiEmulator, tmp_path: Path, framework: str
) -> None:
    env = _env(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        DATABASE_URL="postgresql+asyncpg://npsbot:secret@127.0.0.1:1/npsbot",
        BOT_FRAMEWORK=framework,
    )
    line = await _one_line_failure(tmp_path, env)
    assert "DATABASE_URL" in line and "cannot be reached" in line
    assert "secret" not in line  # the password is masked
