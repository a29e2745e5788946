"""`npsbot run` as a real process: any working directory, clear start-up errors, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.emulator import BotApiEmulator
from storage.db import Database
from tests.e2e.conftest import TOKEN, responses_of

QUESTION = "How likely are you to recommend Acme to a friend or colleague?"


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


async def test_run_from_another_directory_serves_a_respondent_and_stops_on_sigterm(
    api: BotApiEmulator, tmp_path: Path
) -> None:
    db_path = tmp_path / "data" / "npsbot.db"
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = _env(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{db_path}",
        BRAND_NAME="Acme",
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
    assert process.returncode == 0, stderr.decode()
    assert TOKEN not in stderr.decode()  # the token never reaches the logs
    assert not list(workdir.iterdir())
    db = Database(f"sqlite+aiosqlite:///{db_path}")
    try:
        [response] = await responses_of(db, 301)
    finally:
        await db.dispose()
    assert (response.score, response.why, response.improve) == (10, "Friendly staff", "Nothing")


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "BOT_TOKEN is not set: get a token from @BotFather"),
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
        (
            {"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": "http://127.0.0.1:9"},
            "TELEGRAM_API_URL http://127.0.0.1:9 cannot be reached",
        ),
    ],
)
async def test_bad_settings_stop_with_one_clear_line(
    tmp_path: Path, settings: dict[str, str], expected: str
) -> None:
    env = _env(**{"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", **settings})
    process = await _npsbot(tmp_path, env, "run")
    _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == 2
    assert len(lines) == 1 and expected in lines[0], lines
    assert "Traceback" not in stderr.decode()


async def test_a_rejected_token_is_one_line(api: BotApiEmulator, tmp_path: Path) -> None:
    env = _env(
        BOT_TOKEN="999:WRONG",
        TELEGRAM_API_URL=api.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
    )
    process = await _npsbot(tmp_path, env, "run")
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == 2
    assert len(lines) == 1 and "BOT_TOKEN was rejected" in lines[0] and "999:WRONG" not in lines[0]


async def test_an_unreachable_database_is_one_line(api: BotApiEmulator, tmp_path: Path) -> None:
    env = _env(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        DATABASE_URL="postgresql+asyncpg://npsbot:secret@127.0.0.1:1/npsbot",
    )
    process = await _npsbot(tmp_path, env, "run")
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == 2
    assert len(lines) == 1 and "DATABASE_URL" in lines[0] and "cannot be reached" in lines[0]
    assert "secret" not in lines[0]  # the password is masked
