"""`npsbot demo` as a real process: the address it prints, its own settings whatever the
environment says, a clean stop, and one-line failures."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.test_cli import _env, _npsbot


async def _demo(cwd: Path, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await _npsbot(cwd, env, "demo", *args)


def _contents(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _one_line_failure(cwd: Path, *args: str) -> str:
    process = await _demo(cwd, _env(), *args)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    text = stderr.decode()
    lines = text.strip().splitlines()
    assert process.returncode == 2, text
    assert len(lines) == 1 and "Traceback" not in text, text
    assert stdout == b""
    return lines[0]


async def test_a_taken_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = await _one_line_failure(tmp_path, "--port", str(port))
    assert line.startswith("npsbot demo: cannot listen on 127.0.0.1:") and "--port" in line
    assert _contents(tmp_path) == []  # nothing was created


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--framework", "django"], "invalid choice"),
        (["--port", "http"], "not a port number"),
        (["--port", "70000"], "not a port number"),
        (["--verbose"], "unrecognized arguments"),
    ],
)
async def test_a_bad_option_is_one_line(tmp_path: Path, args: list[str], says: str) -> None:
    assert says in await _one_line_failure(tmp_path, *args)


async def test_a_data_path_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    line = await _one_line_failure(tmp_path, "--data", "file", "--port", str(_free_port()))
    assert "--data" in line and "is a file" in line


async def test_the_demo_runs_whatever_the_environment_says_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    """A user's .env and environment (another database, a webhook, a bad token) are not
    the demo's: it prints its address, serves the page, and removes its temporary data."""
    (tmp_path / ".env").write_text("DATABASE_URL=mysql://elsewhere/db\nWEBHOOK_URL=nope\n")
    env = _env(BOT_TOKEN="not-a-token", API_TOKEN="short", TMPDIR=str(tmp_path))
    process = await _demo(tmp_path, env, "--port", str(_free_port()), "--framework", "ptb")
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
        assert first.startswith("npsbot demo: open http://127.0.0.1:"), first
        url = first.split("open ", 1)[1].strip()
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            async with session.get(url) as page:  # the landing's redirect, with the cookie
                assert page.status == 200 and "npsbot demo" in await page.text()
            async with session.get(url.split("/?", 1)[0] + "/api/people") as people:
                assert people.status == 200
        temporary = [p for p in _contents(tmp_path) if p.startswith("npsbot-demo-")]
        assert len(temporary) == 1 and "npsbot.db" in _contents(tmp_path / temporary[0])
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 0, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert not any(p.startswith("npsbot-demo-") for p in _contents(tmp_path))
