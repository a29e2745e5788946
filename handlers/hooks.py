"""Extension points features register in `create_router` (no module-level state)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.access import Role
    from handlers.context import Context
    from handlers.events import Message
    from nps.scope import Scope
    from storage.repos.responses import ResponseRow
    from storage.repos.surveys import SurveyLike

# Reacts to a stored score or follow-up answer (e.g. a detractor alert).
AnswerListener = Callable[["Context", "SurveyLike", "ResponseRow"], Awaitable[None]]
# Adds lines under the /nps figures (e.g. open detractor cases).
ReportExtra = Callable[["Context", "Scope"], Awaitable[list[str]]]
# Cancels what the user is in the middle of; True when something was cancelled.
Canceller = Callable[["Message", "Context"], Awaitable[bool]]
# Erases a feature's own data about a user id (/forgetme, /forget), in the same transaction.
Forgetter = Callable[["Context", int], Awaitable[None]]


@dataclass
class Hooks:
    """Listeners and extra sections, filled once per router."""

    on_score: list[AnswerListener] = field(default_factory=list)
    on_text: list[AnswerListener] = field(default_factory=list)
    report_extras: list[ReportExtra] = field(default_factory=list)
    cancellers: list[Canceller] = field(default_factory=list)
    forgetters: list[Forgetter] = field(default_factory=list)
    # Extra /help sections by the least role that sees them (catalog keys).
    help_sections: list[tuple[Role, str]] = field(default_factory=list)
    # Commands in the Telegram menu of a user with this role (Router.menu_for).
    menu: Callable[[Role], list[str]] = field(default=lambda role: [])
