"""A Bot API answer that is not JSON (a proxy's HTML "502 Bad Gateway") is a transient error
on both runtimes, and at start-up one line with exit code 2 (issue 9, item 9)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.emulator import BotApiEmulator
from bot.runtime.aiogram_port import AiogramPort
from bot.runtime.aiogram_runtime import create_bot
from bot.runtime.ptb_port import PtbPort
from bot.runtime.ptb_runtime import create_application
from handlers.port import ChatPort, SendText, Transient
from tests.e2e.conftest import QUESTION, TOKEN, RunningBot, make_settings
from tests.e2e.test_cli import _env, _one_line_failure

HTML_PAGE = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.fixture(params=["aiogram", "ptb"])
def framework(request: pytest.FixtureRequest) -> str:
    """BOT_FRAMEWORK of the process under test."""
    return str(request.param)


async def test_an_html_502_delays_the_greeting_and_question_but_loses_neither(
    api: BotApiEmulator, bot: RunningBot
) -> None:
    user = api.user(231, first_name="Hal", language_code="en")
    api.inject_fault(method="sendMessage", status=502, times=1, html=True)
    user.send("/start")
    await user.wait_for_message(lambda m: QUESTION in m.text, timeout=10)
    statuses = [c.status for c in api.calls_for("sendMessage")]
    assert statuses[0] == 502 and statuses.count(200) == 2, statuses
    assert sum(m.text.startswith("Hi Hal!") for m in user.bot_messages) == 1
    assert sum(QUESTION in m.text for m in user.bot_messages) == 1


@pytest.fixture
async def ports(api: BotApiEmulator) -> AsyncIterator[dict[str, ChatPort]]:
    """An AiogramPort and a PtbPort talking to the same emulator."""
    settings = make_settings(api, "sqlite+aiosqlite://")
    bot = create_bot(settings)
    application = create_application(settings)
    try:
        yield {"aiogram": AiogramPort(bot), "ptb": PtbPort(application.bot)}
    finally:
        await bot.session.close()
        await application.bot.request.shutdown()


@pytest.mark.parametrize("status", [200, 502, 503])
async def test_a_body_that_is_not_json_is_transient_on_both_ports(
    api: BotApiEmulator, ports: dict[str, ChatPort], status: int
) -> None:
    user = api.user(232, first_name="Ida")
    user.send("/start")
    for name, port in ports.items():
        api.inject_fault(method="sendMessage", status=status, times=1, html=True)
        with pytest.raises(Transient):
            await port.perform(SendText(user.id, name))
    assert [c.status for c in api.calls_for("sendMessage")] == [status, status]


@pytest.fixture(params=[200, 502])
async def html_server(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A web server (a proxy, a wrong URL) answering every request with an HTML page."""

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=HTML_PAGE, status=request.param, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_run_against_a_url_answering_html_is_one_line(
    html_server: str, tmp_path: Path, framework: str
) -> None:
    env = _env(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=html_server,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        BOT_FRAMEWORK=framework,
    )
    line = await _one_line_failure(tmp_path, env)
    assert f"TELEGRAM_API_URL {html_server}" in line, line
    assert TOKEN not in line
