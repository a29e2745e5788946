"""Survey questions to WhatsApp chats and the 24-hour customer-service window.

Inside the window (the person wrote within 24 hours, less WINDOW_MARGIN; both in
storage/repos/whatsapp.py) the question goes free-form: the 0–10 question as its two lists
(render.py), sent in turn by `send_in_turn` (the second best-effort). Outside it — a person
invited by phone who never wrote, a broadcast or reminder to someone who wrote days ago —
it goes as the survey's approved template (the survey's `whatsapp_template`, else
WHATSAPP_TEMPLATE; body parameter {{1}} the survey's subject or the brand; one quick reply)
in the person's language. A free-form question Meta refuses for the window (131047) is
asked again by the template: at once when the send's answer says so, or when the `failed`
status comes later (webhook.py → `refused`). The template's quick reply brings the
question's lists (its payload holds the language and the score buttons' prefix, and for a
CSAT or CES survey its kind, so the tap needs no state); a typed number answers at once, as
the response is open at the score step when the template goes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.extra_sends import before_extra_send
from bot.whatsapp.client import CloudApi
from bot.whatsapp.render import Renderer, ScoreKeyboard, score_keyboard_of
from handlers.port import ChatError, Keyboard, OutsideWindow, RetryLater, Transient, Unreachable
from handlers.respondent_messages import score_keyboard
from nps.scales import NPS, SCALES
from storage.db import Database
from storage.models import utcnow
from storage.repos.whatsapp import wamid_message_id, window_open
from storage.repos.whatsapp_outbound import QuestionTarget

log = logging.getLogger(__name__)

# A template's quick reply: nps-wa:q:<language>:<score prefix>[:<kind>] (no kind: 0–10).
QUICK_PREFIX = "nps-wa:q"
# A refusal that arrives before the sender recorded its question waits this long for it.
REFUSED_WAIT = 5.0
REFUSED_POLL = 0.1
_SCORE_PREFIX = re.compile(r"^nps:[a-z]+:\d+$")  # the score buttons' (handlers/callbacks.py)
# The question's later messages (the "6 – 10" list): tries on a 429 or 5xx, and the pause
# between (short: the chat's other replies wait behind it; the person may also type).
LATER_TRIES = 2
LATER_PAUSE = 1.0
# The later messages' ids kept so a `failed` status on one is known at once (bounded).
RECENT_LATER = 10_000


def template_message(name: str, language: str, subject: str, payload: str) -> dict[str, Any]:
    """The template body: {{1}} is the subject, the first button's payload the tap's."""
    return {
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": language},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": subject}]},
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": payload}],
                },
            ],
        },
    }


def quick_reply_question(renderer: Renderer, data: str) -> list[dict[str, Any]] | None:
    """The score question's messages (the 0–10 one's two lists, a CSAT or CES one's list)
    for a template's quick reply payload; None when the payload is not one."""
    parts = data.split(":")
    if len(parts) not in (6, 7) or ":".join(parts[:2]) != QUICK_PREFIX:
        return None
    language, prefix = parts[2], ":".join(parts[3:6])
    kind = parts[6] if len(parts) == 7 else NPS
    if not renderer.catalogs.supports(language):
        language = renderer.catalogs.resolve(None, None)
    if _SCORE_PREFIX.match(prefix) is None or kind not in SCALES:
        return None
    texts = renderer.catalogs.texts(language)
    keyboard = ScoreKeyboard(prefix, kind)
    return renderer.score_question(texts.plain("wa_pick_score"), keyboard, language)


async def send_in_turn(
    api: CloudApi,
    chat_id: int,
    wa_id: str,
    bodies: list[dict[str, Any]],
    sent_later: Callable[[int], None],
) -> int:
    """Sends a question's messages in order; the first's id (the question's). The first's
    failure is raised (nothing went out: the caller may retry or use the template); a later
    one's is logged, never raised — a raise would make the caller send the first again, and
    the person can still use the first list or type a number. `sent_later` is told each
    later message's id."""
    first, *later = bodies
    question = wamid_message_id(await api.send({"to": wa_id, **first}))
    for body in later:
        for attempt in range(1, LATER_TRIES + 1):
            try:
                await before_extra_send()  # a paced sender's token for it (bot/extra_sends.py)
                sent_later(wamid_message_id(await api.send({"to": wa_id, **body})))
                break
            except (RetryLater, Transient) as exc:
                if attempt == LATER_TRIES:
                    log.warning(
                        "the question's next list to chat %s was not sent: %s", chat_id, exc
                    )
                    break
                pause = LATER_PAUSE / 2  # a 5xx or a dropped connection
                if isinstance(exc, RetryLater):
                    pause = min(exc.seconds, LATER_PAUSE)
                await asyncio.sleep(pause)
            except ChatError as exc:  # refused: the first list and typing still work
                log.warning("the question's next list to chat %s was not sent: %s", chat_id, exc)
                break
    return question


def _response_of(prefix: str) -> int | None:
    """The response id in a score prefix (nps:<tag>:<response id>)."""
    tail = prefix.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


class Questions:
    """Sends score questions free-form or as the template, as the window allows."""

    def __init__(
        self,
        api: CloudApi,
        db: Database,
        renderer: Renderer,
        *,
        template: str,
        brand: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.api = api
        self.db = db
        self.renderer = renderer
        self.template = template
        self.brand = brand or "npsbot"
        self.clock = clock
        # The questions' later messages sent lately: a 131047 `failed` status on one asks
        # nothing again (the first message's own status does), and needs no wait for a record.
        self._later: OrderedDict[int, None] = OrderedDict()

    async def _target(self, chat_id: int, response_id: int | None) -> QuestionTarget:
        async with self.db.snapshot() as store:
            target = await store.whatsapp_outbound.target(chat_id, response_id)
        if target is None:
            raise Unreachable(f"no WhatsApp address has the chat {chat_id}")
        return target

    def _template(
        self, target: QuestionTarget, language: str, score: ScoreKeyboard
    ) -> dict[str, Any]:
        name = target.template or self.template
        payload = f"{QUICK_PREFIX}:{language}:{score.prefix}"
        if score.one_list:  # CSAT, CES: the tap must bring their own scale
            payload += f":{score.kind}"
        return template_message(name, language, target.subject or self.brand, payload)

    async def send(self, chat_id: int, html: str, keyboard: Keyboard, score: ScoreKeyboard) -> int:
        """Asks the question; the sent message's id (the template's when it went so)."""
        target = await self._target(chat_id, _response_of(score.prefix))
        language = self.renderer.catalogs.resolve(
            target.language_override, target.guessed_language
        )
        if window_open(target.last_inbound_at, self.clock()):
            bodies = self.renderer.messages(html, keyboard, language)
            try:
                return await self.send_in_turn(chat_id, target.wa_id, bodies)
            except OutsideWindow as exc:
                log.info("question to chat %s refused for the window: %s", chat_id, exc)
        return await self._send(target.wa_id, self._template(target, language, score))

    async def refused_question(self, chat_id: int, message_id: int) -> int | None:
        """The open response whose question Meta refused later for the window (a `failed`
        status with 131047); None when the message asked none (a staff reply, the second
        list of a 0–10 question) or it was answered or replaced meanwhile."""
        if message_id in self._later:
            return None
        deadline = asyncio.get_running_loop().time() + REFUSED_WAIT
        while True:
            async with self.db.snapshot() as store:
                response_id = await store.whatsapp_outbound.refused_question(chat_id, message_id)
            if response_id is not None or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(REFUSED_POLL)  # the sender records after Meta's answer
        if response_id is None:
            log.info("a refused WhatsApp message %s asked no open question", message_id)
        return response_id

    async def ask_again(self, chat_id: int, message_id: int, response_id: int) -> None:
        """The template asks the refused question instead (if still unanswered)."""
        async with self.db.snapshot() as store:
            if await store.whatsapp_outbound.refused_question(chat_id, message_id) is None:
                return  # answered (a typed number) meanwhile
        target = await self._target(chat_id, response_id)
        language = self.renderer.catalogs.resolve(
            target.language_override, target.guessed_language
        )
        score = score_keyboard_of(score_keyboard(response_id, target.kind))
        assert score is not None  # the handlers' own keyboard
        new = await self._send(target.wa_id, self._template(target, language, score))
        async with self.db.transaction() as store:
            await store.whatsapp_outbound.asked_again(response_id, message_id, new)

    async def send_in_turn(self, chat_id: int, wa_id: str, bodies: list[dict[str, Any]]) -> int:
        """A question's messages in order (module `send_in_turn`); the first's id."""
        return await send_in_turn(self.api, chat_id, wa_id, bodies, self._sent_later)

    def _sent_later(self, message_id: int) -> None:
        self._later[message_id] = None
        if len(self._later) > RECENT_LATER:
            self._later.popitem(last=False)

    async def _send(self, wa_id: str, body: dict[str, Any]) -> int:
        wamid = await self.api.send({"to": wa_id, **body})
        return wamid_message_id(wamid)
