"""`npsbot run` as a real process with API_TOKEN set: it serves /healthz and the API beside
polling, stops on SIGTERM, and a taken HTTP_PORT stops it with one line."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.emulator import BotApiEmulator
from tests.scenario import TOKEN
from tests.web.conftest import API_TOKEN, AUTH

LISTENING = re.compile(r"HTTP server on (http://127\.0\.0\.1:\d+)")


@pytest.fixture
async def api() -> AsyncIterator[BotApiEmulator]:
    """The Bot API emulator the process polls."""
    async with BotApiEmulator(
        token=TOKEN, bot_first_name="Acme", bot_username="acme_nps_bot"
    ) as server:
        yield server


def _env(api: BotApiEmulator, tmp_path: Path, **values: str) -> dict[str, str]:
    """A clean environment: PATH/HOME and the settings under test."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'npsbot.db'}",
        API_TOKEN=API_TOKEN,
        HTTP_HOST="127.0.0.1",
        DIGEST_TIME="off",
        **values,
    )
    return env


async def _npsbot(cwd: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _listening_url(process: asyncio.subprocess.Process, seen: list[str]) -> str:
    """Reads the log until the server says where it listens (HTTP_PORT=0: a free port)."""
    assert process.stderr is not None
    async with asyncio.timeout(30):
        while True:
            line = (await process.stderr.readline()).decode()
            assert line, f"npsbot ended before listening: {''.join(seen)}"
            seen.append(line)
            if found := LISTENING.search(line):
                return found.group(1)


@pytest.mark.parametrize("framework", ["aiogram", "ptb"])
async def test_run_serves_health_and_the_api_and_stops_on_sigterm(
    api: BotApiEmulator, tmp_path: Path, framework: str
) -> None:
    env = _env(api, tmp_path, HTTP_PORT="0", BOT_FRAMEWORK=framework)
    process = await _npsbot(tmp_path, env)
    seen: list[str] = []
    try:
        url = await _listening_url(process, seen)
        await api.wait_until(lambda: api.calls_for("getUpdates"), timeout=30)  # polling too
        async with aiohttp.ClientSession() as client:
            async with client.get(f"{url}/healthz") as response:
                assert (response.status, await response.json()) == (200, {"status": "ok"})
            async with client.get(f"{url}/api/v1/surveys", headers=AUTH) as response:
                assert response.status == 200
                assert [s["slug"] for s in (await response.json())["surveys"]] == ["nps"]
            async with client.get(f"{url}/api/v1/surveys") as response:
                assert response.status == 401
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    log = "".join(seen) + stderr.decode()
    assert process.returncode == 0, log
    assert "Traceback" not in log
    assert TOKEN not in log and API_TOKEN not in log  # secrets never reach the log
    port = int(url.rsplit(":", 1)[1])
    with socket.create_server(("127.0.0.1", port)):  # stopped: the port is free again
        pass


async def test_a_taken_port_stops_run_with_one_line(api: BotApiEmulator, tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        process = await _npsbot(tmp_path, _env(api, tmp_path, HTTP_PORT=str(port)))
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    text = stderr.decode()
    lines = text.strip().splitlines()
    assert process.returncode == 2, text
    assert len(lines) == 1 and "Traceback" not in text, lines
    assert lines[0].startswith(f"npsbot: HTTP_PORT {port} is in use ("), lines
    assert not api.calls_for("getUpdates")  # it never started polling
