"""The 0–10 question as two lists ("0 – 5", then "6 – 10"), end to end: every score is
one row of one list (two taps), a choice after the answer is stale, an old range button
from before the upgrade still works, and a second list Meta refuses leaves the first —
the question is neither lost nor sent twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot import extra_sends
from bot.broadcast import delivery
from bot.broadcast.delivery import deliver
from bot.broadcast.limiter import RateLimiter
from bot.wa_emulator import CloudApiEmulator
from bot.whatsapp import questions
from bot.whatsapp.questions import LATER_TRIES, Questions, send_in_turn
from bot.whatsapp.render import Renderer
from handlers.port import Rejected, RetryLater, SendText, Transient
from storage.broadcast_models import RecipientStatus
from storage.repos.whatsapp import WHATSAPP_CHAT_BASE, wamid_message_id
from tests.scenario import wait_for
from tests.whatsapp.conftest import WhatsAppBot
from tests.whatsapp.score_lists import is_question, is_second_list, nps_score, question_lists
from tests.whatsapp.test_bad_input import _post_button
from tests.whatsapp.test_conversation import responses

UK = "4477009003{:02d}"


def _skip_offered(message: Any) -> bool:
    return "Skip" in [b.title for b in message.buttons]


async def test_every_score_is_one_row_of_one_list_and_a_later_choice_is_stale(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    customers = [wa.customer(UK.format(score), f"P{score}") for score in range(11)]
    for customer in customers:
        customer.send_text("Hi")
    asked = await asyncio.gather(*(question_lists(c) for c in customers))
    for score, (customer, lists) in enumerate(zip(customers, asked, strict=True)):
        nps_score(customer, lists, score)  # one row of one of the two lists
    for customer in customers:
        await customer.wait_for_message(_skip_offered, timeout=10)
    answered = {r.score for r in await responses(wa_bot.db)}
    assert answered == set(range(11))
    # After answering 2 (the first list), a row of the second list is stale, and so is
    # another row of the first: each gets "already answered" and changes nothing.
    two, (first, second) = customers[2], asked[2]
    for stale_list, row in ((second, "9"), (first, "4")):
        seen = len(two.messages)
        two.choose_row(stale_list, row)
        reply = await two.wait_for_message(lambda m, n=seen: two.messages.index(m) >= n, 10)
        assert "already answered: 2" in reply.text
    assert sorted(r.score for r in await responses(wa_bot.db)) == list(range(11))


async def test_an_old_range_button_still_brings_its_scores(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    """A question sent before the upgrade carried "0 – 3", "4 – 7", "8 – 10": a tap on one
    still gets the list of its scores, and its rows answer."""
    wa_id = UK.format(20)
    ana = wa.customer(wa_id, "Ana")
    ana.send_text("Hi")
    asked, _ = await question_lists(ana)
    prefix = asked.rows[0].id.rsplit(":", 1)[0]  # the score buttons' nps:s:<response id>
    await _post_button(wa_bot, wa_id, f"nps-wa:r:en:8:10:{prefix}")
    scores = await ana.wait_for_message(lambda m: m.text == "Choose your score", 10)
    assert [r.title for r in scores.rows] == ["8", "9", "10"]
    ana.choose_row(scores, "9")
    await ana.wait_for_message(_skip_offered, timeout=10)
    assert [r.score for r in await responses(wa_bot.db)] == [9]


async def test_a_refused_second_list_leaves_the_first_and_is_not_resent(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    """Meta lets two messages through to the customer (the greeting and the question's
    first list), then refuses (131056, the pair rate): the second list fails after the
    first went out. The question is not sent
    again, and its first list still answers."""
    wa_id = UK.format(21)
    wa.set_rate_limits(per_second=None, pair_limit=2, pair_window=600)
    ana = wa.customer(wa_id, "Ana")
    ana.send_text("Hi")
    asked = await ana.wait_for_message(is_question, timeout=10)

    def refusals() -> int:
        return sum(1 for c in wa.calls if c.path.endswith("/messages") and c.status == 400)

    await wait_for(lambda: refusals() >= LATER_TRIES, "the second list refused", within=10)
    wa.set_rate_limits(per_second=None, pair_limit=None)
    ana.choose_row(asked, "3")
    await ana.wait_for_message(_skip_offered, timeout=10)
    assert [r.score for r in await responses(wa_bot.db)] == [3]
    assert refusals() == LATER_TRIES  # tried twice, then given up
    assert len([m for m in ana.messages if is_question(m)]) == 1  # not resent
    assert not [m for m in ana.messages if is_second_list(m)]


class _Api:
    """A Cloud API whose sends answer in turn from `answers` (an exception is raised)."""

    def __init__(self, *answers: str | Exception) -> None:
        self.answers = list(answers)
        self.sent: list[dict[str, Any]] = []

    async def send(self, body: dict[str, Any]) -> str:
        self.sent.append(body)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


BODIES: list[dict[str, Any]] = [{"type": "first"}, {"type": "second"}]


@pytest.mark.parametrize(
    "failures",
    [[Rejected("131009")], [Transient("502"), Transient("502")], [RetryLater(0), Rejected("x")]],
)
async def test_the_second_list_is_best_effort(
    monkeypatch: pytest.MonkeyPatch, failures: list[Exception]
) -> None:
    monkeypatch.setattr(questions, "LATER_PAUSE", 0.0)
    api = _Api("wamid.first", *failures)
    later: list[int] = []
    sent = await send_in_turn(api, 7, "447700900399", BODIES, later.append)  # type: ignore[arg-type]
    assert sent == wamid_message_id("wamid.first")
    assert [b["type"] for b in api.sent] == ["first"] + ["second"] * len(failures)
    assert later == [] and api.answers == []


async def test_a_failed_first_list_is_raised_and_nothing_follows() -> None:
    api = _Api(Transient("500"))
    with pytest.raises(Transient):
        await send_in_turn(api, 7, "447700900399", BODIES, lambda _: None)  # type: ignore[arg-type]
    assert [b["type"] for b in api.sent] == ["first"]


async def test_a_refusal_of_the_second_list_asks_nothing_again() -> None:
    """A `failed` 131047 status on the second list is known at once (no wait for a
    record): only the first list's refusal brings the template."""
    api = _Api("wamid.first", "wamid.second")
    asking = Questions(api, None, Renderer(None), template="t", brand="b")  # type: ignore[arg-type]
    await asking.send_in_turn(7, "447700900399", BODIES)
    second = wamid_message_id("wamid.second")
    found = await asyncio.wait_for(asking.refused_question(7, second), timeout=1)
    assert found is None


class _TwoMessagePort:
    """A port whose every action is two messages, as a WhatsApp 0–10 question."""

    def __init__(self) -> None:
        self.sent = 0

    async def perform(self, action: Any) -> int:
        self.sent += 1
        await extra_sends.before_extra_send()
        self.sent += 1
        return 1

    async def download(self, file_id: str, max_bytes: int) -> bytes:
        raise NotImplementedError


async def test_a_paced_sender_takes_a_token_for_the_second_list() -> None:
    """Broadcasts, reminders and invitations keep to WHATSAPP_RATE in messages: the
    question's second list waits for one more token of the sender's limiter."""
    limiter, port = RateLimiter(1000), _TwoMessagePort()
    action = SendText(WHATSAPP_CHAT_BASE + 1, "How likely?")
    delivered = await deliver(port, limiter, action, action.chat_id)
    assert delivered.status == RecipientStatus.SENT and port.sent == 2
    assert (limiter.calls, limiter.outstanding()) == (2, 2)
    await extra_sends.before_extra_send()  # outside a paced sender: no wait, no token


async def test_without_a_free_token_the_second_list_goes_after_a_bounded_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At one message a second the question's own token is the only one: waiting for
    another would never end, so the second list goes after EXTRA_TOKEN_WAIT."""
    monkeypatch.setattr(delivery, "EXTRA_TOKEN_WAIT", 0.05)
    limiter, port = RateLimiter(1), _TwoMessagePort()
    action = SendText(WHATSAPP_CHAT_BASE + 1, "How likely?")
    delivered = await asyncio.wait_for(deliver(port, limiter, action, action.chat_id), 5)
    assert delivered.status == RecipientStatus.SENT and port.sent == 2
    assert limiter.calls == 1
