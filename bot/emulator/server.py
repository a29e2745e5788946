"""``BotApiEmulator``: the emulator's one entry point, wiring its parts together.

The parts, each with its own state, pointing only down this list:

* ``transport.py`` — HTTP, spec validation, call records, error shapes;
* ``faults.py`` — injected faults and delays, sending rate limits;
* ``methods_bot.py``, ``methods_messages.py`` — the Bot API methods;
* ``users.py`` — what emulated people do (``actors.py`` holds the people themselves);
* ``chats.py`` — users, groups, messages, callback queries;
* ``markup.py``, ``files.py`` — formatted text and keyboards, stored files;
* ``webhooks.py`` — updates POSTed to the bot while a webhook is set;
* ``updates.py`` — the update queue;
* bot/emulator_kit — the lifecycle (start, close, ``wait_until``) and the change signal,
  shared with bot/wa_emulator.
"""

from __future__ import annotations

import re
from typing import Any

from bot.emulator.actors import ChatView, EmulatedGroup, EmulatedUser
from bot.emulator.chats import CallbackQueries, Chats
from bot.emulator.faults import Delay, Fault, Faults
from bot.emulator.files import FileStore
from bot.emulator.methods_bot import BotMethods, commands_key
from bot.emulator.methods_messages import MessageMethods
from bot.emulator.models import ApiCall, ChatMessage, Handler, bad_request
from bot.emulator.spec import ApiSpec, default_spec
from bot.emulator.transport import Transport
from bot.emulator.updates import UpdateQueue
from bot.emulator.users import People
from bot.emulator.webhooks import WebhookAttempt, WebhookSender
from bot.emulator_kit.lifecycle import EmulatorLifecycle

_TOKEN_RE = re.compile(r"^(\d+):[\w-]+$")


class BotApiEmulator(EmulatorLifecycle):
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
        super().__init__(host, port)
        self.token = token
        self.bot_id = int(match.group(1))
        self.bot_first_name = bot_first_name
        self.bot_username = bot_username
        self.spec = spec or default_spec()
        self.calls: list[ApiCall] = []

        def bot_user() -> dict[str, Any]:
            return self.bot_user

        self._updates = UpdateQueue(self._changes)
        self._files = FileStore()
        self._queries = CallbackQueries()
        self._chats = Chats(bot_user, self._on_message)
        self._people = People(
            self._chats, self._files, self._updates, self._queries, bot_user, self._changes
        )
        self._faults: Faults = Faults(sleep=self._changes.sleep)
        self._webhooks = WebhookSender(self._updates)
        self._bot_methods = BotMethods(
            bot_user, self._chats, self._files, self._updates, self._webhooks
        )
        messages = MessageMethods(self._chats, self._files, self._queries)
        self._handlers: dict[str, Handler] = {
            **self._bot_methods.handlers(),
            **messages.handlers(),
        }
        self._transport = Transport(
            token=token,
            spec=self.spec,
            calls=self.calls,
            run=self._run,
            file_at=self._files.by_path,
            notify=self._updates.notify,
            log_requests=log_requests,
        )
        # The state tests read directly (the parts own it; these are the same objects).
        self.users: dict[int, EmulatedUser] = self._chats.users
        self.groups: dict[int, EmulatedGroup] = self._chats.groups
        self.files = self._files.files
        self.callback_answers = self._queries.answers
        self.commands = self._bot_methods.commands

    # --- lifecycle (start, ``async with``, base_url, add_routes: EmulatorLifecycle) ---------

    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot's ``User`` object, as in ``from`` of its messages."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    async def close(self) -> None:
        """Stop the server; pending long polls are answered with an empty list first."""
        self._updates.close()
        await self._webhooks.close()
        await super().close()

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
        user = EmulatedUser(self._people, user_id, first_name, last_name, username, language_code)
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
            group = EmulatedGroup(self._people, chat_id, title, kind, username)
            self.groups[chat_id] = group
        for member in members or []:
            group.add_member(member)
        return group

    def find_chat(self, chat_id: int | str) -> ChatView | None:
        """A user's private chat or a group by id (a group also by ``@username``), or None."""
        return self._chats.find(chat_id)

    # --- updates -----------------------------------------------------------------------

    def enqueue_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update for getUpdates; assign ``update_id`` if missing; return it."""
        return self._updates.enqueue(update)

    def redeliver(self, update_id: int) -> None:
        """Make the next getUpdates return an already delivered update again, as after a crash."""
        self._updates.redeliver(update_id)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot (a copy)."""
        return self._updates.pending

    # --- inspection and fault injection --------------------------------------------------

    @property
    def webhook(self) -> dict[str, Any]:
        """What the bot passed to setWebhook (``{}`` when none is set)."""
        return self._bot_methods.webhook

    @property
    def webhook_attempts(self) -> list[WebhookAttempt]:
        """Every POST of an update to the bot's webhook, in order (redeliveries included)."""
        return self._webhooks.attempts

    @property
    def too_many_requests_sent(self) -> int:
        """How many calls the rate limits answered with 429."""
        return self._faults.too_many_requests_sent

    def menu(self, chat_id: int | None = None, language: str = "") -> list[str]:
        """Command names the bot set for a chat's scope (None: the default scope)."""
        scope = {"type": "default"} if chat_id is None else {"type": "chat", "chat_id": chat_id}
        return [c["command"] for c in self.commands.get(commands_key(scope, language), [])]

    def calls_for(self, method: str) -> list[ApiCall]:
        """Calls of one method (case-insensitive)."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def deliveries(self, chat_id: int | str) -> int:
        """How many sendMessage/sendPhoto/sendDocument calls to that chat succeeded."""
        return self._faults.deliveries(chat_id)

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
        fault = Fault(method, status, retry_after, times, chat_id, description, html)
        self._faults.inject_fault(fault)

    def inject_delay(
        self,
        method: str | None = "sendMessage",
        seconds: float = 0.5,
        times: int | None = 1,
        *,
        after_processing: bool = False,
    ) -> None:
        """Slow down the next ``times`` matching calls (before, or after, they take effect)."""
        self._faults.inject_delay(Delay(method, seconds, times, after_processing))

    def set_rate_limits(
        self,
        global_per_second: int | None = 30,
        per_chat_per_second: int | None = 1,
        paid_per_second: int | None = 1000,
    ) -> None:
        """Answer 429 above these send rates (sliding one-second window); None disables.

        Telegram's: about 30 messages a second, one a second per chat, and up to 1000 a
        second for sends with ``allow_paid_broadcast`` (which do not count against the 30).
        """
        self._faults.set_rate_limits(global_per_second, per_chat_per_second, paid_per_second)

    # --- hooks for subclasses (bench/e2e_throughput.py uses both) ------------------------

    def message_added(self, chat: ChatView, msg: ChatMessage) -> None:
        """Called for each new message in any chat, the bot's or a user's, as soon as it is
        in the chat (its content is filled in right after, before any other task runs).
        Does nothing; a subclass may override it."""

    async def handle(self, method: str, params: dict[str, Any]) -> Any:
        """Answer one validated call (after injected faults, delays and rate limits).
        A subclass may override it to observe calls; it must call this one."""
        handler = self._handlers.get(method)
        if handler is None:
            raise bad_request("method not supported by the emulator")
        return await handler(params)

    async def _run(self, method: str, params: dict[str, Any]) -> Any:
        return await self._faults.run(method, params, self.handle)

    def _on_message(self, chat: ChatView, msg: ChatMessage) -> None:
        self._updates.notify()
        self.message_added(chat, msg)
