"""The narrow chat interface handlers talk through, and the replies they queue."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from storage.store import Store


@dataclass(frozen=True)
class Button:
    """One inline button: either callback data (≤ 64 bytes) or a URL."""

    text: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Keyboard:
    """Rows of inline buttons, rendered by each runtime for its framework."""

    rows: tuple[tuple[Button, ...], ...]

    @classmethod
    def of(cls, *rows: list[Button] | tuple[Button, ...]) -> Keyboard:
        """Builds a keyboard from rows of buttons."""
        return cls(tuple(tuple(row) for row in rows if row))


@dataclass(frozen=True)
class ReplyButton:
    """A reply keyboard's button: tapping it sends its text, or with `share_contact` the
    user's own phone number as a contact (Telegram's request_contact, private chats)."""

    text: str
    share_contact: bool = False


@dataclass(frozen=True)
class ReplyKeyboard:
    """Buttons shown in place of the user's keyboard (Telegram's ReplyKeyboardMarkup) until
    a message removes them (RemoveReplyKeyboard), or with `one_time` once one is tapped."""

    rows: tuple[tuple[ReplyButton, ...], ...]
    one_time: bool = True

    @classmethod
    def of(cls, *rows: list[ReplyButton], one_time: bool = True) -> ReplyKeyboard:
        """Builds a reply keyboard from rows of buttons."""
        return cls(tuple(tuple(row) for row in rows if row), one_time)


@dataclass(frozen=True)
class RemoveReplyKeyboard:
    """Takes the chat's reply keyboard away (Telegram's ReplyKeyboardRemove)."""


# What a new message may carry: inline buttons under it, or a reply keyboard (or the
# removal of one) under the input field. Edits carry inline buttons only, as in Telegram.
Markup = Keyboard | ReplyKeyboard | RemoveReplyKeyboard


# Runs after a message was sent, in a fresh transaction, with the new message's id.
AfterSend = Callable[["Store", int], Awaitable[None]]

# Registered after-send jobs: fn(store, message_id, *args), by kind (`after_send_kind`).
AFTER_SEND_KINDS: dict[str, Callable[..., Awaitable[None]]] = {}


@dataclass(frozen=True)
class Remember:
    """An AfterSend that is data, not a closure: a registered kind and its arguments.

    Replies are kept in a persisted outbox until sent (bot/outbox.py); a closure cannot be
    stored, so a reply re-sent after a crash would lose its job. A Remember is stored with
    the reply and runs again with the re-sent message's id. Plain closures still work,
    in the live path only.
    """

    kind: str
    args: tuple[int | str, ...] = ()

    async def __call__(self, store: Store, message_id: int) -> None:
        await AFTER_SEND_KINDS[self.kind](store, message_id, *self.args)


def after_send_kind(
    kind: str,
) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Remember]]:
    """Registers fn(store, message_id, *args) as `kind`; the decorated name then builds
    the AfterSend: `remember_prompt(response_id)` → Remember("…", (response_id,))."""

    def register(fn: Callable[..., Awaitable[None]]) -> Callable[..., Remember]:
        AFTER_SEND_KINDS[kind] = fn

        def make(*args: int | str) -> Remember:
            return Remember(kind, args)

        make.__doc__ = fn.__doc__
        return make

    return register


@dataclass
class SendText:
    """Send an HTML message to a chat."""

    chat_id: int
    html: str
    keyboard: Markup | None = None
    after: AfterSend | None = None
    # Sent instead when the message was not delivered: the chat is unreachable (403), or
    # Telegram refused it (400) or kept failing (e.g. tell staff it failed).
    if_unreachable: SendText | None = None
    # Sent only once this message was delivered (e.g. "sent ✓" to the staff member).
    if_sent: SendText | None = None
    # A paid broadcast (allow_paid_broadcast, BROADCAST_PAID): Telegram's 1000/s limit
    # instead of its free ~30/s, for a fee in Stars. Only the broadcast senders set it.
    paid_broadcast: bool = False
    # Sent instead of `if_unreachable` when WhatsApp refused the message because its
    # 24-hour customer-service window is closed (OutsideWindow).
    if_outside_window: SendText | None = None


@dataclass
class EditText:
    """Replace a message's text and keyboard (None removes the keyboard)."""

    chat_id: int
    message_id: int
    html: str
    keyboard: Keyboard | None = None


@dataclass
class DeleteMessage:
    """Delete a message the bot sent (a "Preparing…" note once the file is there)."""

    chat_id: int
    message_id: int


@dataclass
class DropKeyboard:
    """Remove a message's inline buttons and leave its text as it is (an answered prompt,
    whether it is the question or a hint that repeated its buttons)."""

    chat_id: int
    message_id: int


@dataclass
class AnswerButton:
    """Acknowledge a button press, optionally with a toast or an alert."""

    callback_id: str
    text: str | None = None
    alert: bool = False


@dataclass
class SendDocument:
    """Upload a file: bytes, or a Path streamed from disk (large exports)."""

    chat_id: int
    filename: str
    data: bytes | Path
    caption_html: str | None = None


@dataclass
class SendPhoto:
    """Upload a picture."""

    chat_id: int
    data: bytes
    caption_html: str | None = None


@dataclass
class SetCommands:
    """Set a private chat's command menu (Telegram's chat scope); no commands removes it,
    so the chat shows the default menu again."""

    chat_id: int
    commands: tuple[tuple[str, str], ...] = ()


class Reader(Protocol):
    """Read access for work done after the transaction (bot/storage Database)."""

    def snapshot(self) -> AbstractAsyncContextManager[Store]:
        """A read-only transaction."""
        ...


# Slow work (exports, charts) runs after the handler's transaction has committed, so it
# never holds a write lock; it reads through its own snapshot and queues more replies.
Deferred = Callable[[Reader, "Outbox"], Awaitable[None]]


@dataclass
class RunLater:
    """Run a deferred job after the commit, in order with the other replies."""

    job: Deferred


# Gets the downloaded bytes, a write transaction of its own and an outbox for its replies.
AfterDownload = Callable[[bytes, "Store", "Outbox"], Awaitable[None]]


@dataclass
class Download:
    """Download a file the user sent, after the commit, then hand it to `then`.

    A separate action rather than a RunLater that also gets the port: a deferred job only
    reads, while a downloaded file usually has to be stored (an /import), so `then` runs
    in a fresh write transaction, and the handler never sees the network or the port.
    """

    file_id: str
    max_bytes: int
    then: AfterDownload
    # Sent instead when the file cannot be downloaded (too big, gone, Telegram failing).
    if_failed: SendText | None = None


Action = (
    SendText
    | EditText
    | DeleteMessage
    | DropKeyboard
    | AnswerButton
    | SendDocument
    | SendPhoto
    | RunLater
    | Download
    | SetCommands
)


@dataclass
class Outbox:
    """Replies queued by a handler; sent after its transaction commits.

    Sending after the commit keeps database locks short (no network I/O inside a
    transaction) and means a reply never announces something that was rolled back.
    """

    actions: list[Action] = field(default_factory=list)
    # Temporary files (exports) removed once every action was performed.
    temporary: list[Path] = field(default_factory=list)

    def send(
        self,
        chat_id: int,
        html: str,
        keyboard: Markup | None = None,
        *,
        after: AfterSend | None = None,
        if_unreachable: SendText | None = None,
        if_sent: SendText | None = None,
    ) -> None:
        """Queues a message."""
        self.actions.append(SendText(chat_id, html, keyboard, after, if_unreachable, if_sent))

    def edit(
        self, chat_id: int, message_id: int, html: str, keyboard: Keyboard | None = None
    ) -> None:
        """Queues an edit of an earlier message."""
        self.actions.append(EditText(chat_id, message_id, html, keyboard))

    def drop_keyboard(self, chat_id: int, message_id: int) -> None:
        """Queues the removal of a message's buttons, keeping its text."""
        self.actions.append(DropKeyboard(chat_id, message_id))

    def delete(self, chat_id: int, message_id: int) -> None:
        """Queues the deletion of a message the bot sent."""
        self.actions.append(DeleteMessage(chat_id, message_id))

    def answer(self, callback_id: str, text: str | None = None, *, alert: bool = False) -> None:
        """Queues the answer to a button press, ahead of everything else.

        Telegram shows a spinner on the button until it is answered, so it goes first.
        """
        self.actions.insert(0, AnswerButton(callback_id, text, alert))

    def document(
        self, chat_id: int, filename: str, data: bytes | Path, caption_html: str | None = None
    ) -> None:
        """Queues a file upload."""
        self.actions.append(SendDocument(chat_id, filename, data, caption_html))

    def photo(self, chat_id: int, data: bytes, caption_html: str | None = None) -> None:
        """Queues a picture upload."""
        self.actions.append(SendPhoto(chat_id, data, caption_html))

    def set_commands(self, chat_id: int, commands: list[tuple[str, str]]) -> None:
        """Queues a private chat's own command menu (empty: back to the default menu)."""
        self.actions.append(SetCommands(chat_id, tuple(commands)))

    def defer(self, job: Deferred) -> None:
        """Queues slow work to run after the commit (it gets a Reader and an Outbox)."""
        self.actions.append(RunLater(job))

    def download(
        self, file_id: str, max_bytes: int, then: AfterDownload, *, if_failed: SendText | None
    ) -> None:
        """Queues the download of a user's file; `then` stores what it holds."""
        self.actions.append(Download(file_id, max_bytes, then, if_failed))

    def remove_after(self, path: Path) -> None:
        """Deletes a temporary file once the replies were sent (or failed)."""
        self.temporary.append(path)


class ChatError(Exception):
    """Base of the errors a ChatPort raises, the same for every framework."""


class RetryLater(ChatError):
    """Telegram answered 429: wait `seconds`, then retry the same request."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds


class Unreachable(ChatError):
    """Telegram answered 403: the user blocked the bot or cannot be written to."""


class Rejected(ChatError):
    """Telegram answered 400 (or another client error); `description` says why."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class OutsideWindow(Rejected):
    """WhatsApp refused a free-form message outside the 24-hour customer-service window
    (131047): only an approved template reaches the person now."""


class Transient(ChatError):
    """A 5xx answer, a timeout or a dropped connection: worth retrying."""


class ChatPort(Protocol):
    """What a runtime adapter must offer: perform one action, return a message id."""

    async def perform(self, action: Action) -> int | None:
        """Performs the action; raises a ChatError subclass on failure."""
        ...

    async def download(self, file_id: str, max_bytes: int) -> bytes:
        """A user's file; Rejected("file is too big") above max_bytes (Telegram: 20 MB)."""
        ...
