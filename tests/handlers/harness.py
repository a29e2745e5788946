"""The handler tier's bot: the real BotApp and Pipeline with handlers.routing's routes,
fed plain events in-process, its replies recorded by a port. No HTTP, no framework.

The port records every action (`RecordingPort.actions`) and applies it to the emulator's
in-memory chats (bot/emulator), called directly, never over a socket: the emulator
renders HTML to the text a user sees, keeps message ids, edits, keyboards and callback
answers, and answers 403 to a user who blocked the bot, so a test reads what was sent
exactly as the end-to-end tests read it, and a scenario moves between tiers unchanged.
What is left out is what the end-to-end tier tests: each framework's adapter, HTTP and
the Bot API's wire format.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app import (
    BotApp,
    BotIdentity,
    background_jobs,
    bot_commands,
    build_pipeline,
    staff_menus,
)
from bot.broadcast.sending_process import SendingProcess
from bot.emulator import BotApiEmulator
from bot.emulator.models import ApiCall, ApiError, FileInfo, ProxyError
from bot.i18n import Catalogs
from bot.settings import Settings
from handlers.events import (
    Attachment,
    BlockChange,
    ButtonPress,
    Event,
    IncomingMessage,
    Sender,
    SharedContact,
)
from handlers.port import (
    Action,
    AnswerButton,
    DeleteMessage,
    DropKeyboard,
    EditText,
    Keyboard,
    Markup,
    Rejected,
    ReplyKeyboard,
    RetryLater,
    SendDocument,
    SendPhoto,
    SendText,
    SetCommands,
    Transient,
    Unreachable,
)
from storage.db import Database
from tests.conftest import next_loop_turn

# What a message holds besides text, in the order Telegram's clients name content types.
MEDIA_KINDS = ("sticker", "photo", "voice", "document", "video", "animation", "audio")
# Updates handled at once, as the aiogram runtime allows (MAX_CONCURRENT_UPDATES).
CONCURRENT_UPDATES = 100


def _markup(keyboard: Markup | None) -> str | None:
    """The keyboard as the Bot API's reply_markup JSON (None: no keyboard), as both
    runtimes render it (a reply keyboard resized to its buttons)."""
    if keyboard is None:
        return None
    if isinstance(keyboard, ReplyKeyboard):
        reply_rows = [
            [
                {"text": b.text, **({"request_contact": True} if b.share_contact else {})}
                for b in row
            ]
            for row in keyboard.rows
        ]
        markup = {"keyboard": reply_rows, "resize_keyboard": True}
        return json.dumps({**markup, "one_time_keyboard": keyboard.one_time})
    if not isinstance(keyboard, Keyboard):  # RemoveReplyKeyboard
        return json.dumps({"remove_keyboard": True})
    rows = [
        [{"text": b.text, **({"url": b.url} if b.url else {"callback_data": b.data})} for b in row]
        for row in keyboard.rows
    ]
    return json.dumps({"inline_keyboard": rows})


def api_call(action: Action) -> tuple[str, dict[str, Any], dict[str, FileInfo]]:
    """The Bot API method, parameters and uploads an action amounts to (as the runtimes
    send it: HTML, link previews off)."""
    html = {"parse_mode": "HTML"}
    no_preview = {"link_preview_options": json.dumps({"is_disabled": True})}
    if isinstance(action, SendText):
        params = {"chat_id": action.chat_id, "text": action.html, **html, **no_preview}
        return "sendMessage", {**params, "reply_markup": _markup(action.keyboard)}, {}
    if isinstance(action, EditText):
        params = {"chat_id": action.chat_id, "message_id": action.message_id, "text": action.html}
        params.update(html, **no_preview, reply_markup=_markup(action.keyboard))
        return "editMessageText", params, {}
    if isinstance(action, DeleteMessage):
        return "deleteMessage", {"chat_id": action.chat_id, "message_id": action.message_id}, {}
    if isinstance(action, DropKeyboard):
        params = {"chat_id": action.chat_id, "message_id": action.message_id}
        return "editMessageReplyMarkup", params, {}
    if isinstance(action, AnswerButton):
        params = {"callback_query_id": action.callback_id, "text": action.text}
        return "answerCallbackQuery", {**params, "show_alert": action.alert}, {}
    if isinstance(action, SendDocument):
        data = action.data.read_bytes() if isinstance(action.data, Path) else action.data
        upload = FileInfo(name=action.filename, mime_type=None, data=data)
        params = {"chat_id": action.chat_id, "caption": action.caption_html, **html}
        return "sendDocument", params, {"document": upload}
    if isinstance(action, SendPhoto):
        upload = FileInfo(name="chart.png", mime_type="image/png", data=action.data)
        params = {"chat_id": action.chat_id, "caption": action.caption_html, **html}
        return "sendPhoto", params, {"photo": upload}
    if isinstance(action, SetCommands):
        scope = json.dumps({"type": "chat", "chat_id": action.chat_id})
        if not action.commands:
            return "deleteMyCommands", {"scope": scope}, {}
        commands = [{"command": c, "description": d} for c, d in action.commands]
        return "setMyCommands", {"commands": json.dumps(commands), "scope": scope}, {}
    raise TypeError(f"unknown action {action!r}")


class RecordingPort:
    """The ChatPort of the handler tier: records each action, then applies it to the
    emulator's chats in-process (its faults and Telegram's checks included), mapping the
    emulator's errors to ChatErrors as both runtimes do."""

    def __init__(self, api: BotApiEmulator) -> None:
        self.api = api
        self.actions: list[Action] = []
        self.in_flight = 0

    async def perform(self, action: Action) -> int | None:
        """Performs one action; the sent message's id for sends and edits."""
        self.actions.append(action)
        method, raw, files = api_call(action)
        result = await self.call(method, {k: v for k, v in raw.items() if v is not None}, files)
        if isinstance(action, EditText):
            return action.message_id
        if isinstance(result, dict) and isinstance(action, (SendText, SendDocument, SendPhoto)):
            return int(result["message_id"])
        return None

    async def download(self, file_id: str, max_bytes: int) -> bytes:
        """A user's file (getFile, then its bytes); Rejected above max_bytes."""
        info = await self.call("getFile", {"file_id": file_id}, {})
        if info.get("file_size", 0) > max_bytes or not info.get("file_path"):
            raise Rejected("file is too big")
        stored = self.api._files.by_path(info["file_path"])
        if stored is None:
            raise Rejected("file not found")
        return stored.data

    async def call(self, method: str, raw: dict[str, Any], files: dict[str, FileInfo]) -> Any:
        """One Bot API call straight into the emulator, recorded in `api.calls`."""
        call = ApiCall(method, raw, 0, time.monotonic())
        self.api.calls.append(call)
        self.in_flight += 1
        try:
            spec = self.api.spec.lookup(method)
            assert spec is not None, method
            call.params = params = self.api.spec.validate(spec, dict(raw), files)
            call.result = await self.api._run(method, params)
        except ApiError as exc:
            call.status, call.description = exc.status, exc.description
            raise _chat_error(exc) from exc
        finally:
            self.in_flight -= 1
            self.api._updates.notify()
        call.status = 200
        return call.result


def _chat_error(exc: ApiError) -> Exception:
    """The ChatError a runtime raises for this API error."""
    if exc.status == 429:
        return RetryLater(float((exc.parameters or {}).get("retry_after", 1)))
    if exc.status == 403:
        return Unreachable(exc.description)
    if exc.status >= 500 or isinstance(exc, ProxyError):
        return Transient(exc.description)
    return Rejected(exc.description)


def _sender(user: dict[str, Any]) -> Sender:
    """The Telegram user behind an update."""
    get = user.get
    return Sender(user["id"], get("first_name"), get("username"), get("language_code"))


def event_of(update: dict[str, Any]) -> Event | None:
    """The plain event a runtime makes of a raw update (bot/runtime/conversion.py)."""
    update_id = int(update["update_id"])
    if "message" in update:
        message = update["message"]
        if "from" not in message:
            return None
        kind = (
            "text"
            if "text" in message
            else next((k for k in MEDIA_KINDS if k in message), "unknown")
        )
        shared = message.get("contact")
        contact = None
        if shared is not None:
            kind = "contact"
            contact = SharedContact(
                shared["phone_number"], shared.get("user_id"), shared.get("first_name")
            )
        doc = message.get("document")
        document = None
        if doc is not None:
            document = Attachment(
                doc["file_id"], doc.get("file_name"), doc.get("mime_type"), doc.get("file_size")
            )
        return IncomingMessage(
            update_id=update_id,
            chat_id=message["chat"]["id"],
            sender=_sender(message["from"]),
            text=message.get("text"),
            kind=kind,
            message_id=message["message_id"],
            chat_type=message["chat"]["type"],
            caption=message.get("caption"),
            document=document,
            contact=contact,
        )
    if "callback_query" in update:
        query = update["callback_query"]
        message = query.get("message")
        return ButtonPress(
            update_id=update_id,
            chat_id=message["chat"]["id"] if message else query["from"]["id"],
            sender=_sender(query["from"]),
            callback_id=query["id"],
            data=query.get("data"),
            message_id=message["message_id"] if message else None,
            chat_type=message["chat"]["type"] if message else "private",
        )
    if "my_chat_member" in update:
        change = update["my_chat_member"]
        if change["chat"]["type"] != "private":
            return None
        return BlockChange(
            update_id=update_id,
            chat_id=change["chat"]["id"],
            sender=_sender(change["from"]),
            blocked=change["new_chat_member"]["status"] in ("kicked", "left"),
            chat_type=change["chat"]["type"],
        )
    return None


@functools.cache
def catalogs(default: str) -> Catalogs:
    """The text catalogs, parsed once per process: they are read-only once loaded."""
    return Catalogs(default=default)


async def assemble(settings: Settings, me: BotIdentity) -> BotApp:
    """What bot.app.start_application builds for a runtime, minus two costs a test need not
    pay at every start: the catalogs are parsed once (catalogs() above), and the database
    is not migrated again: every test's database is a copy of the session's template,
    which Database.migrate brought to the head (at the head, migrating again only re-reads
    every revision file). The end-to-end tier starts through start_application itself."""
    db = Database(
        settings.database_url,
        tz=settings.tz,
        anonymity_salt=settings.anonymity_salt,
        event_urls=settings.events_urls,
    )
    await db.check()
    async with db.transaction() as store:
        await store.surveys.ensure_default()
    texts = catalogs(settings.default_language)
    pipeline = build_pipeline(settings, db, me, catalogs=texts)
    process = SendingProcess(settings)
    return BotApp(
        settings, db, texts, pipeline, me, background_jobs(settings, process), name=process.name
    )


@dataclass
class HandlerBot:
    """npsbot's application without a runtime: what the users of `api` do becomes plain
    events handed to the pipeline; the same start / stop / crash / idle as the end-to-end
    RunningBot, so scenarios read the same in both tiers."""

    settings: Settings
    api: BotApiEmulator
    app: BotApp | None = None
    port: RecordingPort = field(init=False)
    # False for a replica in webhook mode's place: another application takes the updates
    # (the emulator answers a second getUpdates with Telegram's 409 Conflict).
    polls: bool = True
    _poller: asyncio.Task[None] | None = None
    _handling: set[asyncio.Task[Any]] = field(default_factory=set)
    # What escaped Pipeline.handle (it catches what handlers raise): a bug, failed at stop.
    escaped: list[BaseException] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = RecordingPort(self.api)

    async def start(self) -> None:
        """Builds the application as a runtime does (assemble(); command menus set, staff
        menus, background jobs started) and starts handing it updates."""
        api = self.api
        me = BotIdentity(api.bot_id, api.bot_username, api.bot_first_name)
        app = self.app = await assemble(self.settings, me)
        for language, commands in bot_commands(app.catalogs, app.pipeline.router).items():
            listed = [{"command": c, "description": d} for c, d in commands]
            params = {"commands": json.dumps(listed)}
            if language != app.catalogs.default:
                params["language_code"] = language
            await self.port.call("setMyCommands", params, {})
        await app.pipeline.deliver(await staff_menus(app), self.port)
        app.start_jobs(self.port)
        if self.polls:
            self._poller = asyncio.create_task(self._poll(app))

    async def _poll(self, app: BotApp) -> None:
        """getUpdates without HTTP: each update a task, as the runtimes handle them."""
        limit = asyncio.Semaphore(CONCURRENT_UPDATES)
        offset: int | None = None
        while True:
            batch = await self.api._updates.poll(offset, 100, wait=60)
            for update in batch:
                offset = int(update["update_id"]) + 1
                event = event_of(update)
                if event is None:
                    continue
                await limit.acquire()
                task = asyncio.create_task(app.pipeline.handle(event, self.port))
                self._handling.add(task)
                task.add_done_callback(self._handled)
                task.add_done_callback(lambda _: limit.release())

    def _handled(self, task: asyncio.Task[Any]) -> None:
        self._handling.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.escaped.append(task.exception())  # type: ignore[arg-type]

    async def stop(self) -> None:
        """Stops gracefully, as SIGTERM would: updates being handled finish first."""
        if self.app is None:
            return
        await self._stop_polling()
        if self._handling:
            await asyncio.wait(set(self._handling), timeout=15)
        await self.app.close()
        self.app = None
        if self.escaped:
            raise AssertionError(f"an update's handling raised: {self.escaped!r}")

    async def crash(self) -> None:
        """Stops abruptly: polling and every update in flight are cancelled where they are."""
        if self.app is None:
            return
        await self._stop_polling()
        for task in list(self._handling):
            task.cancel()
        for task in list(self._handling):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.app.close()
        self.app = None

    async def _stop_polling(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    async def restart(self) -> None:
        """Stops, then starts again on the same database."""
        await self.stop()
        await self.start()

    def _quiet(self) -> bool:
        """No update waiting, no event in the pipeline, no API call in flight."""
        busy = self.app is not None and self.app.pipeline.inflight
        return not (self.api.pending_updates or busy or self._handling or self.port.in_flight)

    async def idle(self) -> None:
        """Waits until every update was handled and every reply sent."""
        await self.api.wait_until(self._quiet)
        await next_loop_turn()
        await self.api.wait_until(self._quiet)
