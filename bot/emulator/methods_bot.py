"""Bot API methods on the bot itself: getMe, logOut, close, getUpdates, set/delete/
getWebhook(Info), set/get/deleteMyCommands, and getFile (the bot's downloads)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from bot.emulator.actors import EmulatedUser
from bot.emulator.chats import Chats
from bot.emulator.files import DOWNLOAD_LIMIT, FileStore
from bot.emulator.models import ApiError, Handler, bad_request
from bot.emulator.updates import UpdateQueue
from bot.emulator.webhooks import WebhookSender

# BotCommandScope types, and the fields each needs besides `type`.
COMMAND_SCOPES: dict[str, tuple[str, ...]] = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}


def commands_key(scope: dict[str, Any], language: str) -> tuple[str, str]:
    """How the commands of a (checked) scope and language are filed."""
    return json.dumps(scope, sort_keys=True), language


class BotMethods:
    """The handlers, with the state they own: the webhook and the command menus."""

    def __init__(
        self,
        bot_user: Callable[[], dict[str, Any]],
        chats: Chats,
        files: FileStore,
        updates: UpdateQueue,
        webhooks: WebhookSender,
    ) -> None:
        self.webhook: dict[str, Any] = {}
        self._webhooks = webhooks
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._bot_user = bot_user
        self._chats = chats
        self._files = files
        self._updates = updates

    def handlers(self) -> dict[str, Handler]:
        """Bot API method name → handler."""
        return {
            "getMe": self.get_me,
            "logOut": self.log_out,
            "close": self.close,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "getFile": self.get_file,
        }

    async def get_me(self, params: dict[str, Any]) -> Any:
        """getMe."""
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def log_out(self, params: dict[str, Any]) -> Any:
        """logOut."""
        return True

    async def close(self, params: dict[str, Any]) -> Any:
        """close."""
        return True

    async def get_updates(self, params: dict[str, Any]) -> Any:
        """getUpdates: a long poll; 409 while a webhook is set or when a newer poll starts."""
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
            self._updates.allowed_updates = list(params["allowed_updates"])
        return await self._updates.poll(offset, limit, timeout)

    async def set_webhook(self, params: dict[str, Any]) -> Any:
        """setWebhook: updates are POSTed to the URL from now on; getUpdates answers 409."""
        secret = params.get("secret_token") or ""
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        connections = params.get("max_connections")
        if connections is not None and not 1 <= connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        if params.get("drop_pending_updates"):
            self._updates.drop_pending()
        self.webhook = {k: v for k, v in params.items() if k != "certificate"}
        if "allowed_updates" in params:
            self._updates.allowed_updates = list(params["allowed_updates"])
        self._webhooks.set(params["url"], secret, connections)
        return True

    async def delete_webhook(self, params: dict[str, Any]) -> Any:
        """deleteWebhook: delivery stops; getUpdates works again."""
        if params.get("drop_pending_updates"):
            self._updates.drop_pending()
        self.webhook = {}
        self._webhooks.delete()
        return True

    async def get_webhook_info(self, params: dict[str, Any]) -> Any:
        """getWebhookInfo."""
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": self._updates.pending_count,
        }
        if self._webhooks.last_error_date is not None:
            info["last_error_date"] = self._webhooks.last_error_date
            info["last_error_message"] = self._webhooks.last_error_message
        if self.webhook.get("url"):
            info["max_connections"] = self._webhooks.max_connections
        if self._updates.allowed_updates:
            info["allowed_updates"] = list(self._updates.allowed_updates)
        return info

    def _commands_key(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if isinstance(scope, str):
            scope = json.loads(scope)
        fields = COMMAND_SCOPES.get(str(scope.get("type"))) if isinstance(scope, dict) else None
        if fields is None:
            raise bad_request("can't parse BotCommandScope")
        if any(name not in scope for name in fields):
            raise bad_request("can't parse BotCommandScope")
        if "chat_id" in fields:
            chat = self._chats.find(scope["chat_id"])
            # As Telegram: a private chat exists for the bot once its user pressed Start.
            if chat is None or (isinstance(chat, EmulatedUser) and not chat.started):
                raise bad_request("chat not found")
            scope = {**scope, "chat_id": chat.id}
        return commands_key(scope, params.get("language_code", ""))

    async def set_my_commands(self, params: dict[str, Any]) -> Any:
        """setMyCommands."""
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

    async def get_my_commands(self, params: dict[str, Any]) -> Any:
        """getMyCommands."""
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    async def delete_my_commands(self, params: dict[str, Any]) -> Any:
        """deleteMyCommands."""
        self.commands.pop(self._commands_key(params), None)
        return True

    async def get_file(self, params: dict[str, Any]) -> Any:
        """getFile: the path under ``/file/bot<token>/`` (files up to 20 MB)."""
        info = self._files.files.get(params["file_id"])
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
