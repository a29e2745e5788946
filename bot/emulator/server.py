"""An in-process Telegram Bot API server that real aiogram / python-telegram-bot clients use."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import mimetypes
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

from aiohttp import web

from bot.emulator.actors import ChatView, EmulatedGroup, EmulatedUser
from bot.emulator.formatting import EntityParseError, parse_text, strip_formatted
from bot.emulator.models import (
    ApiCall,
    ApiError,
    Button,
    CallbackAnswer,
    ChatMessage,
    FileInfo,
    bad_request,
    forbidden,
)
from bot.emulator.spec import ApiSpec, default_spec

log = logging.getLogger("bot.emulator")

Handler = Callable[[dict[str, Any]], Awaitable[Any]]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_ANSWER_LIMIT = 200
CALLBACK_DATA_LIMIT = 64
BUTTONS_PER_ROW = 8
BUTTONS_TOTAL = 100
UPLOAD_LIMIT = 50 * 1024 * 1024
PHOTO_LIMIT = 10 * 1024 * 1024
DOWNLOAD_LIMIT = 20 * 1024 * 1024
# Telegram only sends these update types when the bot asks for them explicitly.
OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
# Methods whose successful calls count as deliveries and against the sending rate limits.
DELIVERY_METHODS = {"sendMessage", "sendPhoto", "sendDocument"}
INLINE_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "web_app",
    "copy_text",
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
_TOKEN_RE = re.compile(r"^(\d+):[\w-]+$")
_BOT_PATH_RE = re.compile(r"^/bot([^/]+)/([^/]*)$")
_FILE_PATH_RE = re.compile(r"^/file/bot([^/]+)/(.+)$")


@dataclass
class _Fault:
    method: str | None
    status: int
    retry_after: int
    times: int | None
    chat_id: int | str | None
    description: str | None
    html: bool = False


class _ProxyError(ApiError):
    """A failure answered as a reverse proxy would: an HTML page, not the Bot API's JSON."""

    def page(self) -> str:
        """The HTML body (nginx's style)."""
        title = f"{self.status} {self.description}"
        return (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        )


@dataclass
class _Delay:
    method: str | None
    seconds: float
    times: int | None
    after_processing: bool


def _now() -> int:
    return int(time.time())


class BotApiEmulator:
    """A fake Bot API server on 127.0.0.1 with emulated users, for end-to-end tests."""

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        bot_first_name: str = "Test Bot",
        bot_username: str = "test_bot",
        host: str = "127.0.0.1",
        port: int = 0,
        log_requests: bool = False,
        spec: ApiSpec | None = None,
    ) -> None:
        match = _TOKEN_RE.match(token)
        if not match:
            raise ValueError(f"token {token!r} does not look like '<bot id>:<secret>'")
        self.token = token
        self.bot_id = int(match.group(1))
        self.bot_first_name = bot_first_name
        self.bot_username = bot_username
        self.host = host
        self.port = port
        self.log_requests = log_requests
        self.spec = spec or default_spec()

        self.calls: list[ApiCall] = []
        self.users: dict[int, EmulatedUser] = {}
        self.groups: dict[int, EmulatedGroup] = {}
        self.files: dict[str, FileInfo] = {}
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] = {}
        self.too_many_requests_sent = 0

        self._callback_queries: dict[str, int] = {}  # query id → user id, until answered
        self._updates: list[dict[str, Any]] = []  # unconfirmed, ordered by update_id
        self._history: dict[int, dict[str, Any]] = {}  # every update ever, for redeliver()
        self._forced: set[int] = set()  # redelivered, returned once regardless of offset
        self._next_update_id = 100_001
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._updates_event = asyncio.Event()
        self._changed_event = asyncio.Event()
        self._closing = False
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._sends: list[tuple[float, int | str, str]] = []  # (monotonic, chat, method)
        self._global_limit: int | None = None
        self._chat_limit: int | None = None
        self._file_counter = 0
        self._runner: web.AppRunner | None = None
        self._handlers: dict[str, Handler] = self._build_handlers()
        self._extra_routes: list[web.RouteDef] = []

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        if self._runner is None:
            raise RuntimeError("emulator is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot's ``User`` object, as in ``from`` of its messages."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def add_routes(self, routes: list[web.RouteDef]) -> None:
        """Add extra aiohttp routes before ``start()`` (used by the standalone control API)."""
        self._extra_routes.extend(routes)

    async def start(self) -> BotApiEmulator:
        """Start listening; with ``port=0`` a free port is chosen."""
        # Bot uploads may be up to 50 MB; aiohttp's default body limit is 1 MB.
        app = web.Application(client_max_size=UPLOAD_LIMIT + 1024 * 1024)
        app.add_routes(self._extra_routes)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # A short shutdown timeout: close() must not hang on a client's in-flight long poll.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        if self.port == 0:
            self.port = runner.addresses[0][1]
        self._closing = False
        return self

    async def close(self) -> None:
        """Stop the server; pending long polls are answered with an empty list first."""
        self._closing = True
        self._wake_pollers()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> BotApiEmulator:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- people ------------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "User",
        username: str | None = None,
        language_code: str | None = "en",
        last_name: str | None = None,
    ) -> EmulatedUser:
        """The emulated user with that id (created on first use; later calls return it)."""
        existing = self.users.get(user_id)
        if existing is not None:
            return existing
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = EmulatedUser(self, user_id, first_name, last_name, username, language_code)
        self.users[user_id] = user
        return user

    def group(
        self,
        chat_id: int,
        title: str = "Group",
        members: list[EmulatedUser] | None = None,
        *,
        chat_type: str | None = None,
        username: str | None = None,
    ) -> EmulatedGroup:
        """A group chat with the bot in it (created on first use; later calls return it)."""
        group = self.groups.get(chat_id)
        if group is None:
            if chat_id >= 0:
                raise ValueError("group chat ids are negative")
            # Real supergroup ids are -100 followed by at least ten digits.
            kind = chat_type or ("supergroup" if chat_id <= -1_000_000_000_000 else "group")
            group = EmulatedGroup(self, chat_id, title, kind, username)
            self.groups[chat_id] = group
        for member in members or []:
            group.add_member(member)
        return group

    # --- updates -----------------------------------------------------------------------

    def enqueue_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update for getUpdates; assign ``update_id`` if missing; return it."""
        update = copy.deepcopy(update)
        if "update_id" not in update:
            update = {"update_id": self._next_update_id, **update}
        update_id = int(update["update_id"])
        self._next_update_id = max(self._next_update_id, update_id + 1)
        self._history[update_id] = update
        self._updates = [u for u in self._updates if u["update_id"] != update_id]
        self._updates.append(update)
        self._updates.sort(key=lambda u: u["update_id"])
        self._wake_pollers()
        return update_id

    def redeliver(self, update_id: int) -> None:
        """Make the next getUpdates return an already delivered update again, as after a crash."""
        if update_id not in self._history:
            raise KeyError(f"no update {update_id} was ever enqueued")
        if all(u["update_id"] != update_id for u in self._updates):
            self._updates.append(copy.deepcopy(self._history[update_id]))
            self._updates.sort(key=lambda u: u["update_id"])
        self._forced.add(update_id)
        self._wake_pollers()

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot (a copy)."""
        return copy.deepcopy(self._updates)

    def _wake_pollers(self) -> None:
        self._updates_event.set()
        self._updates_event = asyncio.Event()
        self._notify()

    def _notify(self) -> None:
        self._changed_event.set()
        self._changed_event = asyncio.Event()

    # --- inspection and fault injection --------------------------------------------------

    def menu(self, chat_id: int | None = None, language: str = "") -> list[str]:
        """Command names the bot set for a chat's scope (None: the default scope)."""
        scope = {"type": "default"} if chat_id is None else {"type": "chat", "chat_id": chat_id}
        key = (json.dumps(scope, sort_keys=True), language)
        return [c["command"] for c in self.commands.get(key, [])]

    def calls_for(self, method: str) -> list[ApiCall]:
        """Calls of one method (case-insensitive)."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def deliveries(self, chat_id: int | str) -> int:
        """How many sendMessage/sendPhoto/sendDocument calls to that chat succeeded."""
        return sum(1 for _, chat, _ in self._sends if chat == chat_id)

    def inject_fault(
        self,
        method: str | None = "sendMessage",
        status: int = 429,
        retry_after: int = 1,
        times: int | None = 1,
        chat_id: int | str | None = None,
        description: str | None = None,
        *,
        html: bool = False,
    ) -> None:
        """Make the next ``times`` matching calls fail (``method=None``: any but getUpdates).

        ``html=True`` answers as a proxy in front of the Bot API would (an nginx
        "502 Bad Gateway" page with ``text/html``), not with the API's JSON error.
        """
        self._faults.append(_Fault(method, status, retry_after, times, chat_id, description, html))

    def inject_delay(
        self,
        method: str | None = "sendMessage",
        seconds: float = 0.5,
        times: int | None = 1,
        *,
        after_processing: bool = False,
    ) -> None:
        """Slow down the next ``times`` matching calls (before, or after, they take effect)."""
        self._delays.append(_Delay(method, seconds, times, after_processing))

    def clear_faults(self) -> None:
        """Drop all pending injected faults and delays."""
        self._faults.clear()
        self._delays.clear()

    def set_rate_limits(
        self, global_per_second: int | None = 30, per_chat_per_second: int | None = 1
    ) -> None:
        """Answer 429 above these send rates (sliding one-second window); None disables."""
        self._global_limit = global_per_second
        self._chat_limit = per_chat_per_second

    async def wait_until(
        self,
        condition: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the agreed test API; a deadline, not a cancel
        message: str | Callable[[], str] | None = None,
    ) -> None:
        """Poll ``condition`` until true (re-checked on each state change), else AssertionError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0:
                text = message() if callable(message) else message
                raise AssertionError(text or f"condition not met within {timeout}s")
            # Wake on any emulator change; the short cap covers state outside the emulator.
            event = self._changed_event
            try:
                await asyncio.wait_for(event.wait(), min(remaining, 0.02))
            except TimeoutError:
                pass

    # --- HTTP layer --------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        file_match = _FILE_PATH_RE.match(path)
        if file_match:
            return self._serve_file(file_match.group(1), file_match.group(2))
        match = _BOT_PATH_RE.match(path)
        if not match:
            return _json_response(ApiError(404, "Not Found").payload(), 404)
        token, method_name = match.groups()
        started = time.monotonic()
        call = ApiCall(method_name, {}, 0, started)
        self.calls.append(call)
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            spec = self.spec.lookup(method_name)
            if spec is None:
                raise ApiError(404, "Not Found: method not found")
            call.method = spec.name
            raw, files = await _read_params(request)
            call.params = raw
            params = self.spec.validate(spec, raw, files)
            call.params = params
            result = await self._run(spec.name, params)
        except ApiError as error:
            call.status, call.description = error.status, error.description
            self._log(call)
            self._notify()
            if isinstance(error, _ProxyError):
                return web.Response(
                    text=error.page(), status=error.status, content_type="text/html"
                )
            return _json_response(error.payload(), error.status)
        except Exception as error:
            # An emulator bug: answer like a Telegram outage and keep the cause in the record.
            log.exception("emulator failure in %s", call.method)
            call.status, call.description = 500, f"Internal Server Error: {error!r}"
            self._notify()
            return _json_response(ApiError(500, "Internal Server Error").payload(), 500)
        call.status, call.result = 200, result
        self._log(call)
        self._notify()
        return _json_response({"ok": True, "result": result}, 200)

    async def _run(self, method: str, params: dict[str, Any]) -> Any:
        """Apply injected delays/faults and rate limits, then the method's handler."""
        chat_key = params.get("chat_id")
        delay = _take(self._delays, method, chat_key=None)
        if delay is not None and not delay.after_processing:
            await self._sleep(delay.seconds)
        fault = _take(self._faults, method, chat_key=chat_key)
        if fault is not None:
            raise _fault_error(fault)
        if method in DELIVERY_METHODS:
            self._check_rate(chat_key)
        handler = self._handlers.get(method, self._unsupported)
        result = await handler(params)
        if method in DELIVERY_METHODS:
            self._sends.append((time.monotonic(), chat_key, method))
        if delay is not None and delay.after_processing:
            await self._sleep(delay.seconds)
        return result

    async def _sleep(self, seconds: float) -> None:
        """Sleep for an injected delay, but end early when the emulator closes."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not self._closing:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            event = self._updates_event
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return

    def _check_rate(self, chat_key: Any) -> None:
        if self._global_limit is None and self._chat_limit is None:
            return
        horizon = time.monotonic() - 1.0
        recent = [(chat, m) for at, chat, m in self._sends if at > horizon]
        over_global = self._global_limit is not None and len(recent) >= self._global_limit
        over_chat = self._chat_limit is not None and (
            sum(1 for chat, _ in recent if chat == chat_key) >= self._chat_limit
        )
        if over_global or over_chat:
            self.too_many_requests_sent += 1
            raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})

    def _serve_file(self, token: str, file_path: str) -> web.Response:
        if token != self.token:
            return _json_response(ApiError(401, "Unauthorized").payload(), 401)
        info = next((f for f in self.files.values() if f.file_path == file_path), None)
        if info is None:
            return _json_response(ApiError(404, "Not Found").payload(), 404)
        return web.Response(
            body=info.data, content_type=info.mime_type or "application/octet-stream"
        )

    def _log(self, call: ApiCall) -> None:
        if self.log_requests:
            shown = {k: v for k, v in call.params.items() if k not in ("document", "photo")}
            log.info("%s %s %s %s", call.status, call.method, shown, call.description or "")

    # --- handlers ----------------------------------------------------------------------

    def _build_handlers(self) -> dict[str, Handler]:
        # Handlers are the ``_api_<methodName>`` coroutines of this class.
        return {
            name.removeprefix("_api_"): getattr(self, name)
            for name in dir(type(self))
            if name.startswith("_api_")
        }

    async def _unsupported(self, params: dict[str, Any]) -> Any:
        raise bad_request("method not supported by the emulator")

    async def _api_getMe(self, params: dict[str, Any]) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_logOut(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_close(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset: int | None = params.get("offset")
        limit = min(max(params.get("limit", 100), 1), 100)
        timeout = max(params.get("timeout", 0), 0)
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"])
        self._confirm(offset)
        # A newer poll ends an older one with 409, as Telegram does for two running bots.
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            batch = self._deliverable(offset, limit)
            remaining = deadline - loop.time()
            if batch or self._closing or remaining <= 0:
                for update in batch:
                    self._forced.discard(update["update_id"])
                return batch
            event = self._updates_event
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            keep = self._updates[offset:]
            self._updates = keep
            return
        self._updates = [
            u for u in self._updates if u["update_id"] >= offset or u["update_id"] in self._forced
        ]

    def _deliverable(self, offset: int | None, limit: int) -> list[dict[str, Any]]:
        allowed = set(self._allowed_updates)
        batch: list[dict[str, Any]] = []
        for update in list(self._updates):
            kind = next((k for k in update if k != "update_id"), "")
            permitted = kind in allowed if allowed else kind not in OPT_IN_UPDATES
            if not permitted:
                # Telegram never creates updates the bot did not subscribe to.
                self._updates.remove(update)
                continue
            forced = update["update_id"] in self._forced
            if offset is None or offset < 0 or update["update_id"] >= offset or forced:
                batch.append(copy.deepcopy(update))
            if len(batch) >= limit:
                break
        return batch

    async def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {k: v for k, v in params.items() if k != "certificate"}
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"])
        self._wake_pollers()
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {}
        return True

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if "max_connections" in self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
        if self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        return info

    # BotCommandScope types, and the fields each needs besides `type`.
    COMMAND_SCOPES: ClassVar[dict[str, tuple[str, ...]]] = {
        "default": (),
        "all_private_chats": (),
        "all_group_chats": (),
        "all_chat_administrators": (),
        "chat": ("chat_id",),
        "chat_administrators": ("chat_id",),
        "chat_member": ("chat_id", "user_id"),
    }

    def _commands_key(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if isinstance(scope, str):
            scope = json.loads(scope)
        fields = self.COMMAND_SCOPES.get(scope.get("type")) if isinstance(scope, dict) else None
        if fields is None:
            raise bad_request("can't parse BotCommandScope")
        if any(name not in scope for name in fields):
            raise bad_request("can't parse BotCommandScope")
        if "chat_id" in fields:
            chat = self._find_chat(scope["chat_id"])
            # As Telegram: a private chat exists for the bot once its user pressed Start.
            if chat is None or (isinstance(chat, EmulatedUser) and not chat.started):
                raise bad_request("chat not found")
            scope = {**scope, "chat_id": chat.id}
        return json.dumps(scope, sort_keys=True), params.get("language_code", "")

    async def _api_setMyCommands(self, params: dict[str, Any]) -> Any:
        commands = params["commands"]
        if len(commands) > 100:
            raise bad_request("too many commands")
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad_request("command description must be non-empty")
        cleaned = [{"command": c["command"], "description": c["description"]} for c in commands]
        self.commands[self._commands_key(params)] = cleaned
        return True

    async def _api_getMyCommands(self, params: dict[str, Any]) -> Any:
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    async def _api_deleteMyCommands(self, params: dict[str, Any]) -> Any:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _api_getChat(self, params: dict[str, Any]) -> Any:
        chat = self._find_chat(params["chat_id"])
        if chat is None or (isinstance(chat, EmulatedUser) and not chat.started):
            raise bad_request("chat not found")
        return {
            **chat.chat_payload(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    async def _api_sendChatAction(self, params: dict[str, Any]) -> Any:
        self._target(params["chat_id"])
        return True

    async def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        chat = self._target(params["chat_id"])
        text, entities = self._formatted(params, "text", "entities", TEXT_LIMIT)
        markup, keyboard, reply_keyboard = _parse_markup(params.get("reply_markup"))
        reply = self._reply_payload(chat, params)
        msg = self._new_message(chat, from_bot=True, kind="text")
        msg.text, msg.entities, msg.html = text, entities, params["text"]
        msg.parse_mode = params.get("parse_mode")
        msg.keyboard, msg.reply_keyboard = keyboard, reply_keyboard
        msg.payload["text"] = text
        if entities:
            msg.payload["entities"] = entities
        if "link_preview_options" in params:
            msg.payload["link_preview_options"] = params["link_preview_options"]
        if reply:
            msg.payload["reply_to_message"] = reply
        if markup:
            msg.payload["reply_markup"] = markup
        return self._payload_copy(msg)

    async def _api_sendDocument(self, params: dict[str, Any]) -> Any:
        return self._send_media(params, "document")

    async def _api_sendPhoto(self, params: dict[str, Any]) -> Any:
        return self._send_media(params, "photo")

    def _send_media(self, params: dict[str, Any], kind: str) -> Any:
        chat = self._target(params["chat_id"])
        info = self._resolve_file(params[kind], kind)
        caption, entities = "", []
        if params.get("caption"):
            caption, entities = self._formatted(
                params, "caption", "caption_entities", CAPTION_LIMIT
            )
        markup, keyboard, reply_keyboard = _parse_markup(params.get("reply_markup"))
        reply = self._reply_payload(chat, params)
        msg = self._new_message(chat, from_bot=True, kind=kind)
        msg.text, msg.entities, msg.html = caption, entities, params.get("caption")
        msg.parse_mode = params.get("parse_mode")
        msg.keyboard, msg.reply_keyboard = keyboard, reply_keyboard
        if kind == "document":
            msg.document = info
            msg.payload["document"] = _document_payload(info)
        else:
            msg.photo = info
            msg.payload["photo"] = [_photo_size(info)]
        if caption:
            msg.payload["caption"] = caption
        if entities:
            msg.payload["caption_entities"] = entities
        if reply:
            msg.payload["reply_to_message"] = reply
        if markup:
            msg.payload["reply_markup"] = markup
        return self._payload_copy(msg)

    async def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        msg = self._editable(params)
        if msg.kind != "text":
            raise bad_request("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", "entities", TEXT_LIMIT)
        markup, keyboard, _ = _parse_markup(params.get("reply_markup"), inline_only=True)
        if (
            text == msg.text
            and entities == msg.entities
            and markup == msg.payload.get("reply_markup")
        ):
            raise bad_request(NOT_MODIFIED)
        msg.history.append(msg.text)
        msg.text, msg.entities, msg.html = text, entities, params["text"]
        msg.parse_mode = params.get("parse_mode")
        msg.keyboard = keyboard
        msg.payload["text"] = text
        _set_or_pop(msg.payload, "entities", entities)
        _set_or_pop(msg.payload, "reply_markup", markup)
        return self._mark_edited(msg)

    async def _api_editMessageCaption(self, params: dict[str, Any]) -> Any:
        msg = self._editable(params)
        if msg.kind not in ("document", "photo"):
            raise bad_request("there is no caption in the message to edit")
        caption, entities = "", []
        if params.get("caption"):
            caption, entities = self._formatted(
                params, "caption", "caption_entities", CAPTION_LIMIT
            )
        markup, keyboard, _ = _parse_markup(params.get("reply_markup"), inline_only=True)
        if (
            caption == msg.text
            and entities == msg.entities
            and markup == msg.payload.get("reply_markup")
        ):
            raise bad_request(NOT_MODIFIED)
        msg.history.append(msg.text)
        msg.text, msg.entities, msg.html = caption, entities, params.get("caption")
        msg.keyboard = keyboard
        _set_or_pop(msg.payload, "caption", caption)
        _set_or_pop(msg.payload, "caption_entities", entities)
        _set_or_pop(msg.payload, "reply_markup", markup)
        return self._mark_edited(msg)

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        msg = self._editable(params)
        markup, keyboard, _ = _parse_markup(params.get("reply_markup"), inline_only=True)
        if markup == msg.payload.get("reply_markup"):
            raise bad_request(NOT_MODIFIED)
        msg.keyboard = keyboard
        _set_or_pop(msg.payload, "reply_markup", markup)
        return self._mark_edited(msg)

    async def _api_deleteMessage(self, params: dict[str, Any]) -> Any:
        chat = self._find_chat(params["chat_id"])
        if chat is None:
            raise bad_request("chat not found")
        msg = chat.message(params["message_id"])
        if msg is None or msg.deleted:
            raise bad_request("message to delete not found")
        msg.deleted = True
        return True

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        query_id = params["callback_query_id"]
        if query_id not in self._callback_queries:
            raise bad_request(QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and len(text) > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        del self._callback_queries[query_id]
        self.callback_answers[query_id] = CallbackAnswer(
            text=text,
            show_alert=bool(params.get("show_alert", False)),
            url=params.get("url"),
            cache_time=params.get("cache_time"),
        )
        return True

    async def _api_getFile(self, params: dict[str, Any]) -> Any:
        info = self.files.get(params["file_id"])
        if info is None:
            raise bad_request("invalid file_id")
        if info.size > DOWNLOAD_LIMIT:
            raise bad_request("file is too big")
        return {
            "file_id": info.file_id,
            "file_unique_id": info.file_unique_id,
            "file_size": info.size,
            "file_path": info.file_path,
        }

    # --- chats and messages ------------------------------------------------------------

    def _find_chat(self, chat_id: int | str) -> ChatView | None:
        if isinstance(chat_id, str):
            name = chat_id.removeprefix("@").lower()
            return next(
                (g for g in self.groups.values() if g.username and g.username.lower() == name),
                None,
            )
        if chat_id in self.users:
            return self.users[chat_id]
        return self.groups.get(chat_id)

    def _chat(self, chat_id: int) -> ChatView:
        chat = self._find_chat(chat_id)
        if chat is None:
            raise KeyError(f"no chat {chat_id}")
        return chat

    def _target(self, chat_id: int | str) -> ChatView:
        """The chat a bot wants to write to, or the error Telegram would answer."""
        chat = self._find_chat(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if isinstance(chat, EmulatedUser):
            if chat.deactivated:
                raise forbidden("user is deactivated")
            if chat.blocked:
                raise forbidden("bot was blocked by the user")
            if not chat.started:
                raise forbidden("bot can't initiate conversation with a user")
        elif isinstance(chat, EmulatedGroup) and not chat.bot_is_member:
            raise forbidden("bot was kicked from the group chat")
        return chat

    def _editable(self, params: dict[str, Any]) -> ChatMessage:
        if "inline_message_id" in params:
            raise bad_request("method not supported by the emulator (inline messages)")
        if "chat_id" not in params:
            raise bad_request("chat_id is empty")
        if "message_id" not in params:
            raise bad_request("message identifier is not specified")
        chat = self._target(params["chat_id"])
        msg = chat.message(params["message_id"])
        if msg is None or msg.deleted:
            raise bad_request("message to edit not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        return msg

    def _mark_edited(self, msg: ChatMessage) -> dict[str, Any]:
        msg.edited = True
        msg.edit_count += 1
        msg.payload["edit_date"] = max(_now(), msg.date)
        return self._payload_copy(msg)

    def _formatted(
        self, params: dict[str, Any], key: str, entities_key: str, limit: int
    ) -> tuple[str, list[dict[str, Any]]]:
        raw = params[key]
        try:
            text, entities = parse_text(raw, params.get("parse_mode"))
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
        except ValueError:
            raise bad_request("unsupported parse_mode") from None
        if entities_key in params and not params.get("parse_mode"):
            entities = _check_entities(params[entities_key])
        # Telegram trims surrounding whitespace; the length limit applies to what is left.
        text, entities = strip_formatted(text, entities)
        if key == "text" and not text:
            raise bad_request("message text is empty")
        if len(text) > limit:
            raise bad_request(
                "message is too long" if key == "text" else "message caption is too long"
            )
        return text, entities

    def _new_message(
        self, chat: ChatView, *, from_bot: bool, kind: str, sender: EmulatedUser | None = None
    ) -> ChatMessage:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        date = _now()
        sender_payload = self.bot_user if from_bot else sender.user_payload()  # type: ignore[union-attr]
        msg = ChatMessage(
            chat_id=chat.id,
            message_id=message_id,
            from_bot=from_bot,
            kind=kind,
            date=date,
            sender_id=self.bot_id if from_bot else sender.id,  # type: ignore[union-attr]
        )
        msg.payload = {
            "message_id": message_id,
            "from": sender_payload,
            "chat": chat.chat_payload(),
            "date": date,
        }
        chat.messages.append(msg)
        self._notify()
        return msg

    def _reply_payload(self, chat: ChatView, params: dict[str, Any]) -> dict[str, Any] | None:
        """The replied-to message for ``reply_parameters`` (or the legacy parameters)."""
        reply = params.get("reply_parameters") or {}
        reply_to = reply.get("message_id", params.get("reply_to_message_id"))
        if reply_to is None:
            return None
        target = chat.message(int(reply_to))
        if target is None or target.deleted:
            allow = reply.get(
                "allow_sending_without_reply", params.get("allow_sending_without_reply")
            )
            if not allow:
                raise bad_request("message to be replied not found")
            return None
        return self._payload_copy(target)

    def _payload_copy(self, msg: ChatMessage) -> dict[str, Any]:
        return copy.deepcopy(msg.payload)

    def _live_message(self, msg: ChatMessage) -> ChatMessage:
        chat = self._chat(msg.chat_id)
        live = chat.message(msg.message_id)
        if live is None or live.deleted:
            raise AssertionError(
                f"message #{msg.message_id} in chat {msg.chat_id} is gone\n{chat.transcript()}"
            )
        return live

    # --- files -------------------------------------------------------------------------

    def _store_file(self, info: FileInfo, kind: str) -> FileInfo:
        self._file_counter += 1
        n = self._file_counter
        prefix = {"photo": "AgAC", "document": "BQAC", "voice": "AwAC", "sticker": "CAAC"}
        info.file_id = f"{prefix.get(kind, 'BQAC')}{n:06d}{secrets.token_urlsafe(24)}"
        info.file_unique_id = f"AQAD{n:06d}{secrets.token_hex(3)}"
        suffix = ""
        if kind == "photo":
            # Telegram re-encodes photos, so their file paths always end in .jpg.
            suffix = ".jpg"
        elif info.name and "." in info.name:
            suffix = "." + info.name.rsplit(".", 1)[1]
        elif info.mime_type:
            suffix = mimetypes.guess_extension(info.mime_type) or ""
        folders = {"photo": "photos", "voice": "voice", "sticker": "stickers"}
        folder = folders.get(kind, "documents")
        info.file_path = f"{folder}/file_{n}{suffix}"
        self.files[info.file_id] = info
        return info

    def _resolve_file(self, value: FileInfo | str, kind: str) -> FileInfo:
        if isinstance(value, str):
            if value.startswith(("http://", "https://")):
                # The emulator never fetches URLs; a test must upload or reuse a file_id.
                raise bad_request("failed to get HTTP URL content")
            existing = self.files.get(value)
            if existing is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            return existing
        if not value.data:
            raise bad_request("file must be non-empty")
        limit = PHOTO_LIMIT if kind == "photo" else UPLOAD_LIMIT
        if value.size > limit:
            raise ApiError(413, "Request Entity Too Large")
        if kind == "photo":
            value.width, value.height = _image_size(value.data)
            value.mime_type = "image/png" if value.data.startswith(b"\x89PNG") else "image/jpeg"
        return self._store_file(value, kind)

    # --- the user side (called by EmulatedUser) ----------------------------------------

    def _user_message(self, user: EmulatedUser, chat: ChatView, kind: str) -> ChatMessage:
        if chat is user:
            if user.blocked:
                # Real clients unblock the bot ("Restart") before the message goes out.
                user.unblock_bot()
            # Writing to the bot starts the conversation.
            user.started = True
        return self._new_message(chat, from_bot=False, kind=kind, sender=user)

    def _user_text(
        self, user: EmulatedUser, chat: ChatView, text: str, *, reply_to: ChatMessage | None
    ) -> int:
        if not text:
            raise ValueError("Telegram clients do not send empty messages")
        msg = self._user_message(user, chat, "text")
        msg.text = text
        msg.payload["text"] = text
        command = re.match(r"^/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
        if command:
            msg.entities = [{"type": "bot_command", "offset": 0, "length": len(command.group())}]
            msg.payload["entities"] = msg.entities
        if reply_to is not None:
            msg.payload["reply_to_message"] = self._payload_copy(self._live_message(reply_to))
        return self.enqueue_update({"message": msg.payload})

    def _user_media(
        self,
        user: EmulatedUser,
        chat: ChatView,
        kind: str,
        *,
        data: bytes | None = None,
        caption: str | None = None,
        emoji: str = "👍",
        duration: int = 3,
        file_name: str = "file.txt",
        mime_type: str = "text/plain",
    ) -> int:
        msg = self._user_message(user, chat, kind)
        if kind == "sticker":
            info = self._store_file(FileInfo("sticker.webp", "image/webp", data or b"RIFF"), kind)
            msg.payload["sticker"] = {
                "file_id": info.file_id,
                "file_unique_id": info.file_unique_id,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
                "file_size": info.size,
            }
        elif kind == "photo":
            info = FileInfo("photo.jpg", "image/jpeg", data or _TINY_PNG)
            info.width, info.height = _image_size(info.data)
            self._store_file(info, kind)
            msg.photo = info
            msg.payload["photo"] = [_photo_size(info)]
        elif kind == "voice":
            info = self._store_file(FileInfo("voice.ogg", "audio/ogg", data or b"OggS"), kind)
            msg.payload["voice"] = {
                "file_id": info.file_id,
                "file_unique_id": info.file_unique_id,
                "duration": duration,
                "mime_type": "audio/ogg",
                "file_size": info.size,
            }
        else:
            info = self._store_file(FileInfo(file_name, mime_type, data or b"hello"), kind)
            msg.document = info
            msg.payload["document"] = _document_payload(info)
        if caption:
            msg.text = caption
            msg.payload["caption"] = caption
        return self.enqueue_update({"message": msg.payload})

    def _my_chat_member(self, user: EmulatedUser, *, old: str, new: str) -> int:
        def member(status: str) -> dict[str, Any]:
            payload: dict[str, Any] = {"status": status, "user": self.bot_user}
            if status == "kicked":
                payload["until_date"] = 0
            return payload

        return self.enqueue_update(
            {
                "my_chat_member": {
                    "chat": user.chat_payload(),
                    "from": user.user_payload(),
                    "date": _now(),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            }
        )


# --- helpers ---------------------------------------------------------------------------

# A 1×1 PNG, for photos the test does not care about.
_TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def _json_response(body: dict[str, Any], status: int) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False), status=status, content_type="application/json"
    )


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, FileInfo]]:
    """Merge query string and body (JSON, urlencoded or multipart) into one parameter dict."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, FileInfo] = {}
    if request.method not in ("POST", "PUT") or not request.can_read_body:
        return raw, files
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise bad_request("JSON request body must be an object")
        raw.update(body)
        return raw, files
    try:
        form = await request.post()
    except ValueError as error:
        raise bad_request(f"can't parse request body: {error}") from None
    for key, value in form.items():
        if isinstance(value, web.FileField):
            name = value.filename or key
            mime = mimetypes.guess_type(name)[0] or value.content_type
            files[key] = FileInfo(name=name, mime_type=mime, data=value.file.read())
        else:
            raw[key] = value
    return raw, files


def _take(items: list[Any], method: str, chat_key: Any) -> Any:
    """Pop the first fault/delay matching this call, honouring its remaining count."""
    for item in items:
        if item.method is None:
            if method == "getUpdates":
                continue
        elif item.method.lower() != method.lower():
            continue
        wanted_chat = getattr(item, "chat_id", None)
        if wanted_chat is not None and wanted_chat != chat_key:
            continue
        if item.times is not None:
            item.times -= 1
            if item.times <= 0:
                items.remove(item)
        return item
    return None


def _fault_error(fault: _Fault) -> ApiError:
    if fault.html:
        return _ProxyError(fault.status, fault.description or HTTPStatus(fault.status).phrase)
    if fault.status == 429:
        return ApiError(
            429,
            fault.description or f"Too Many Requests: retry after {fault.retry_after}",
            {"retry_after": fault.retry_after},
        )
    defaults = {
        400: "Bad Request: injected error",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict: terminated by other getUpdates request",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }
    return ApiError(fault.status, fault.description or defaults.get(fault.status, "Error"))


def _set_or_pop(payload: dict[str, Any], key: str, value: Any) -> None:
    if value:
        payload[key] = value
    else:
        payload.pop(key, None)


def _check_entities(entities: list[Any]) -> list[dict[str, Any]]:
    for entity in entities:
        if not (
            isinstance(entity, dict)
            and isinstance(entity.get("type"), str)
            and isinstance(entity.get("offset"), int)
            and isinstance(entity.get("length"), int)
        ):
            raise bad_request("can't parse entities JSON object")
    return [dict(e) for e in entities]


def _parse_markup(
    markup: dict[str, Any] | None, *, inline_only: bool = False
) -> tuple[dict[str, Any] | None, list[list[Button]], list[list[str]] | None]:
    """Validate reply_markup; return (markup as echoed in Message, inline buttons, reply kbd)."""
    if markup is None:
        return None, [], None
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        too_wide = any(len(r) > BUTTONS_PER_ROW for r in rows)
        if too_wide or sum(len(r) for r in rows) > BUTTONS_TOTAL:
            raise bad_request("REPLY_MARKUP_TOO_LONG")
        echoed: list[list[dict[str, Any]]] = []
        keyboard: list[list[Button]] = []
        for row in rows:
            echoed_row, buttons = [], []
            for raw in row:
                if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
                    raise bad_request("can't parse inline keyboard button: Text is not specified")
                button = {k: v for k, v in raw.items() if v is not None}
                if not button["text"].strip():
                    raise bad_request("BUTTON_TEXT_INVALID")
                if not any(k in button for k in INLINE_ACTIONS):
                    raise bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and (
                    not isinstance(data, str)
                    or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT
                ):
                    raise bad_request("BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not re.match(r"^(https?|tg)://\S+$", str(url)):
                    raise bad_request("BUTTON_URL_INVALID")
                echoed_row.append(button)
                buttons.append(Button(button["text"], data, url))
            if echoed_row:
                echoed.append(echoed_row)
                keyboard.append(buttons)
        return ({"inline_keyboard": echoed} if echoed else None), keyboard, None
    if inline_only:
        raise bad_request("reply markup must be an inline keyboard when editing a message")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request('field "keyboard" of the ReplyKeyboardMarkup should be an Array')
        texts = [[b if isinstance(b, str) else str(b.get("text", "")) for b in r] for r in rows]
        return None, [], texts
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return None, [], None
    raise bad_request("can't parse reply keyboard markup JSON object")


def _document_payload(info: FileInfo) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "file_id": info.file_id,
        "file_unique_id": info.file_unique_id,
        "file_size": info.size,
    }
    if info.name:
        payload["file_name"] = info.name
    if info.mime_type:
        payload["mime_type"] = info.mime_type
    return payload


def _photo_size(info: FileInfo) -> dict[str, Any]:
    return {
        "file_id": info.file_id,
        "file_unique_id": info.file_unique_id,
        "file_size": info.size,
        "width": info.width or 0,
        "height": info.height or 0,
    }


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG; (0, 0) when unknown (the emulator stays lenient)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(
                    data[i + 5 : i + 7], "big"
                )
            i += 2 + length
    return 0, 0
