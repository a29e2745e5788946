"""The token and every other secret setting never reach a log line (issue 9, item 17)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.emulator import BotApiEmulator
from bot.logs import REDACTED, RedactSecrets, redact_secrets
from bot.settings import Settings, secret_values
from tests.e2e.conftest import QUESTION, TOKEN, RunningBot, make_settings

SALT = "f00dfeedcafe0123456789abcdef"
PASSWORD = "s3cr3t-pa$$"


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "bot_token": TOKEN,
        "anonymity_salt": SALT,
        "database_url": "postgresql+asyncpg://npsbot:s3cr3t-pa%24%24@db:5432/npsbot",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class _Capture(logging.Handler):
    """Keeps the final text of every record, as a log file would hold it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def capture() -> Iterator[_Capture]:
    """A handler on the root logger at DEBUG (as LOG_LEVEL=DEBUG configures it)."""
    root = logging.getLogger()
    handler, level = _Capture(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_the_secrets_are_the_fields_marked_secret() -> None:
    secrets = secret_values(_settings())
    assert TOKEN in secrets and TOKEN.split(":")[1] in secrets
    assert SALT in secrets
    assert PASSWORD in secrets and "s3cr3t-pa%24%24" in secrets
    assert not any("npsbot" in s or "db:5432" in s for s in secrets)  # not the rest of the URL
    assert secret_values(_settings(anonymity_salt="", database_url="sqlite+aiosqlite://")) == [
        TOKEN,
        TOKEN.split(":")[1],
    ]


def test_the_filter_redacts_msg_args_exception_and_stack(capture: _Capture) -> None:
    redact_secrets(_settings())
    log = logging.getLogger("some.library")
    log.debug(f"POST https://api.telegram.org/bot{TOKEN}/getMe")
    log.info("salt is %s, url %r", SALT, f"postgresql://npsbot:{PASSWORD}@db/npsbot")
    log.warning("the secret half alone: %s", TOKEN.split(":")[1])
    try:
        raise RuntimeError(f"connect failed for {PASSWORD}")
    except RuntimeError:
        log.exception("failed")
    log.error("where", stack_info=True, extra={"note": SALT})
    text = "\n".join(capture.lines)
    for secret in (TOKEN, TOKEN.split(":")[1], SALT, PASSWORD):
        assert secret not in text
    assert f"bot{REDACTED}/getMe" in capture.lines[0]
    assert "RuntimeError: connect failed for <redacted>" in capture.lines[3]
    assert "npsbot" in capture.lines[1]  # only the secrets go, not the context around them


def test_a_record_without_secrets_is_unchanged() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d answers", (3,), None)
    assert RedactSecrets([TOKEN]).filter(record)
    assert (record.msg, record.args, record.getMessage()) == ("%d answers", (3,), "3 answers")


@pytest.mark.parametrize("runtime", ["aiogram", "ptb"])
async def test_no_log_line_holds_the_token_at_debug(
    api: BotApiEmulator, capture: _Capture, runtime: str, tmp_path: object
) -> None:
    settings = make_settings(
        api,
        f"sqlite+aiosqlite:///{tmp_path}/x.db",
        bot_framework=runtime,
        anonymity_salt=SALT,
    )
    running = RunningBot(settings, api)
    await running.start()
    try:
        user = api.user(251, first_name="Lu", language_code="en")
        user.send("/start")
        await user.wait_for_message(lambda m: QUESTION in m.text, timeout=10)
    finally:
        await running.stop()
    text = "\n".join(capture.lines)
    assert capture.lines, "nothing was logged at DEBUG"
    for secret in (TOKEN, TOKEN.split(":")[1], SALT):
        assert secret not in text
    if runtime == "ptb":  # telegram.ext.ExtBot logs the Bot API URL: still there, redacted
        assert REDACTED in text
