"""The customers tests play: WhatsApp users who write to the business and answer its
messages. They reach the rest of the emulator only through ``World`` (implemented by
``messaging.Messaging``), so this module imports nothing of the emulator but its models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from bot.emulator_kit.changes import WaitUntil, wait_for_latest
from bot.wa_emulator.models import BusinessMessage, CustomerMessage, MediaFile

MessagePredicate = Callable[[BusinessMessage], bool]
WINDOW_SECONDS = 24 * 3600  # the customer-service window


class World(Protocol):
    """What customers do through the emulator: each act becomes a webhook event."""

    def now(self) -> float:
        """The emulated clock (seconds since the epoch)."""
        ...

    def customer_sends(
        self,
        customer: Customer,
        kind: str,
        content: dict[str, Any] | None,
        *,
        context: BusinessMessage | None = None,
    ) -> CustomerMessage:
        """The customer's message reaches WhatsApp: a ``messages`` webhook is queued
        (``unsupported`` carries Meta's 131051 ``errors[]`` instead of content)."""
        ...

    def customer_reads(self, customer: Customer, message: BusinessMessage) -> None:
        """The customer opened the chat: ``read`` statuses up to ``message``."""
        ...

    def messages_to(self, wa_id: str) -> list[BusinessMessage]:
        """What the business sent to this customer and the API accepted, oldest first."""
        ...

    def store_media(self, data: bytes | None, mime_type: str) -> MediaFile:
        """Keep a file the customer sends (None: a tiny picture of that type); return it
        with its media id."""
        ...

    @property
    def wait_until(self) -> WaitUntil:
        """Wait for a condition (re-checked on each change), else AssertionError."""
        ...


class Customer:
    """A WhatsApp user (``wa_id``: digits with the country code) talking to the business.

    ``on_whatsapp=False`` plays a number that is not on WhatsApp (sends to it fail with
    131026). ``read_receipts`` sends ``read`` statuses when the customer answers or calls
    ``read``; ``online=False`` holds messages at ``sent`` (no ``delivered``)."""

    def __init__(self, world: World, wa_id: str, name: str, user_id: str) -> None:
        self._world = world
        self.wa_id = wa_id
        self.name = name
        self.user_id = user_id
        self.on_whatsapp = True
        self.read_receipts = True
        self.online = True
        self.last_message_at: float | None = None  # opens the customer-service window
        self.sent: list[CustomerMessage] = []  # what the customer wrote, oldest first

    # --- the window ------------------------------------------------------------------------

    @property
    def window_open(self) -> bool:
        """Whether free-form messages may reach the customer (24 h since they last wrote)."""
        last = self.last_message_at
        return last is not None and self._world.now() - last < WINDOW_SECONDS

    # --- what the customer does ------------------------------------------------------------

    def send_text(self, text: str, *, reply_to: BusinessMessage | None = None) -> str:
        """Write a text (a reply when ``reply_to`` is given); return its wamid."""
        if not text.strip():
            raise ValueError("WhatsApp sends no empty messages")
        return self._send("text", {"body": text}, context=reply_to)

    def press_button(self, message: BusinessMessage, title_or_id: str) -> str:
        """Tap a reply button of an interactive message; return the reply's wamid."""
        if message.type != "interactive" or message.interactive_type != "button":
            raise AssertionError(f"message {message.id} has no reply buttons")
        button = message.button(title_or_id)
        if button is None:
            titles = [b.title for b in message.buttons]
            raise AssertionError(f"no button {title_or_id!r} in message {message.id}: {titles}")
        reply = {"type": "button_reply", "button_reply": {"id": button.id, "title": button.title}}
        return self._send("interactive", reply, context=message)

    def choose_row(self, message: BusinessMessage, title_or_id: str) -> str:
        """Open a list message and pick a row; return the reply's wamid."""
        if message.type != "interactive" or message.interactive_type != "list":
            raise AssertionError(f"message {message.id} is not a list")
        row = message.row(title_or_id)
        if row is None:
            titles = [r.title for r in message.rows]
            raise AssertionError(f"no row {title_or_id!r} in message {message.id}: {titles}")
        chosen = {"id": row.id, "title": row.title}
        if row.description:
            chosen["description"] = row.description
        return self._send(
            "interactive", {"type": "list_reply", "list_reply": chosen}, context=message
        )

    def tap_quick_reply(self, message: BusinessMessage, text: str) -> str:
        """Tap a quick reply button of a template message (``type: "button"``)."""
        if message.type != "template":
            raise AssertionError(f"message {message.id} is not a template")
        button = message.button(text)
        if button is None:
            titles = [b.title for b in message.buttons]
            raise AssertionError(f"no quick reply {text!r} in message {message.id}: {titles}")
        return self._send("button", {"payload": button.id, "text": button.title}, context=message)

    def send_image(
        self,
        data: bytes | None = None,
        *,
        mime_type: str = "image/png",
        caption: str | None = None,
    ) -> str:
        """Send a picture (a 1×1 PNG by default); its media id is downloadable."""
        media = self._world.store_media(data, mime_type)
        image: dict[str, Any] = {
            "mime_type": media.mime_type,
            "sha256": media.sha256_b64,
            "id": media.id,
        }
        if caption:
            image["caption"] = caption
        return self._send("image", image)

    def send_sticker(self, data: bytes | None = None, *, animated: bool = False) -> str:
        """Send a sticker (image/webp)."""
        media = self._world.store_media(data, "image/webp")
        sticker = {
            "mime_type": "image/webp",
            "sha256": media.sha256_b64,
            "id": media.id,
            "animated": animated,
        }
        return self._send("sticker", sticker)

    def react(self, message: BusinessMessage, emoji: str) -> str:
        """React to a business message with an emoji."""
        return self._send("reaction", {"message_id": message.id, "emoji": emoji})

    def send_unsupported(self) -> str:
        """Send something the Cloud API cannot pass on (a poll, a view-once photo)."""
        return self._world.customer_sends(self, "unsupported", None).id

    def read(self, message: BusinessMessage | None = None) -> None:
        """Open the chat: ``read`` statuses up to ``message`` (default the latest)."""
        target = message or (self.messages[-1] if self.messages else None)
        if target is not None:
            self._world.customer_reads(self, target)

    def _send(
        self, kind: str, content: dict[str, Any], *, context: BusinessMessage | None = None
    ) -> str:
        return self._world.customer_sends(self, kind, content, context=context).id

    # --- what the customer sees ------------------------------------------------------------

    @property
    def messages(self) -> list[BusinessMessage]:
        """The business's messages to this customer that were not failed, oldest first."""
        return [m for m in self._world.messages_to(self.wa_id) if m.status != "failed"]

    def message(self, wamid: str) -> BusinessMessage | None:
        """A message the business sent to this customer (failed ones included)."""
        return next((m for m in self._world.messages_to(self.wa_id) if m.id == wamid), None)

    async def wait_for_message(
        self,
        predicate: MessagePredicate | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - the agreed test API; a deadline, not a cancel
    ) -> BusinessMessage:
        """Wait for a (not failed) business message matching ``predicate``; the latest match."""
        return await wait_for_latest(
            self._world.wait_until,
            lambda: self.messages,
            predicate,
            timeout,
            lambda: f"no matching message for {self.wa_id}:\n{self.transcript()}",
        )

    def transcript(self) -> str:
        """The chat as text, business messages and the customer's, in order."""
        lines: list[tuple[float, int, str]] = []
        for i, m in enumerate(self._world.messages_to(self.wa_id)):
            shown = m.text or (f"[template {m.template}]" if m.template else f"[{m.type}]")
            extra = "".join(f" [{b.title}]" for b in m.buttons)
            extra += "".join(f" <{r.title}>" for r in m.rows)
            failed = (
                f" (failed {m.errors[0]['code']})" if m.status == "failed" and m.errors else ""
            )
            lines.append((m.at, i, f"bot: {shown}{extra}{failed}"))
        for i, c in enumerate(self.sent):
            lines.append((c.at, i, f"{self.name}: {_shown(c)}"))
        return "\n".join(text for _, _, text in sorted(lines, key=lambda t: (t[0], t[1])))


def _shown(message: CustomerMessage) -> str:
    body = message.body
    kind = message.type
    if kind == "text":
        return str(body["text"]["body"])
    if kind == "interactive":
        reply = body["interactive"]
        return f"[{reply.get('button_reply', reply.get('list_reply', {})).get('title', '?')}]"
    if kind == "button":
        return f"[{body['button']['text']}]"
    if kind == "reaction":
        return f"reacted {body['reaction']['emoji']}"
    return f"[{kind}]"
