"""The 0–10 question on WhatsApp as the tests see it: two list messages, "0 – 5" (the
question) then "6 – 10" (bot/whatsapp/render.py), and a score chosen in two taps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.wa_emulator.models import BusinessMessage

FIRST_LIST = "0 – 5"
SECOND_LIST = "6 – 10"


def is_question(message: BusinessMessage) -> bool:
    """The 0–10 question's first message: the list "0 – 5"."""
    return message.interactive_type == "list" and message.list_button == FIRST_LIST


def is_second_list(message: BusinessMessage) -> bool:
    """The 0–10 question's second message: the list "6 – 10"."""
    return message.interactive_type == "list" and message.list_button == SECOND_LIST


async def question_lists(customer: Any) -> tuple[BusinessMessage, BusinessMessage]:
    """The latest 0–10 question's two lists, once both arrived (the second after the first)."""
    first = await customer.wait_for_message(is_question, timeout=10)

    def after_first(message: BusinessMessage) -> bool:
        ids = [m.id for m in customer.messages]
        return is_second_list(message) and ids.index(message.id) > ids.index(first.id)

    second = await customer.wait_for_message(after_first, timeout=10)
    return first, second


def nps_score(customer: Any, question_msgs: Sequence[BusinessMessage], score: int) -> str:
    """Two taps: opens the list of the question that holds `score` and chooses its row;
    the reply's wamid."""
    for message in question_msgs:
        if message.interactive_type == "list" and message.row(str(score)) is not None:
            return str(customer.choose_row(message, str(score)))
    shown = [[r.title for r in m.rows] for m in question_msgs]
    raise AssertionError(f"no list of the question holds {score}: {shown}")
