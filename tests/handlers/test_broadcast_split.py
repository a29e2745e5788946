"""A/B broadcasts: `/broadcast nps split A:"…" B:"…" control 10%` — the preview, the draw
recorded once, the variant message before the question, the control group, the answers as
the `variant` segment, and the comparison's significance checked independently."""

from __future__ import annotations

import asyncio
import html
import math
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.broadcast import worker
from bot.broadcast.delivery import Delivery, deliver
from bot.broadcast.limiter import RateLimiter
from bot.emulator import BotApiEmulator, ChatMessage, EmulatedUser
from handlers.port import Action, ChatPort, SendText
from storage.db import Database
from tests.admin_helpers import grant
from tests.broadcast_helpers import (
    admin,
    latest_broadcast,
    preview_of,
    recipients_of,
    seed_audience,
)
from tests.conftest import BACKENDS
from tests.handlers.conftest import broadcast_bot
from tests.handlers.harness import HandlerBot
from tests.scenario import wait_for

FINISHED = "finished:"
EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
OFFER_A = "Get 10% off your next order with code SPRING"
OFFER_B = "Free delivery on your next order"
SPLIT = f'split A:"{OFFER_A}" B:"{OFFER_B}" control 10%'
# Scores given per arm, in turn: A's offer pleases (NPS +60), B's does not (NPS −10), the
# control group is in between.
SCORES = {"A": [10, 10, 9, 10, 8, 10, 3, 9, 8, 10], "B": [10, 8, 3, 9, 5, 8, 2, 10, 7, 6]}
SCORES["control"] = [9, 8, 3, 10, 7]


async def forty_at_ten_a_second(
    api: BotApiEmulator, db_url: str, db: Database, first_chat: int
) -> tuple[HandlerBot, list[EmulatedUser], EmulatedUser]:
    """A running bot sending 10 messages a second (a split slow enough to interrupt), forty
    customers from `first_chat` on, and the owner."""
    bot = broadcast_bot(api, db_url, broadcast_rate=10.0)
    await bot.start()
    users = await seed_audience(db, api, range(first_chat, first_chat + 40))
    return bot, users, admin(api)


async def arms_by_chat(db: Database, broadcast_id: int) -> dict[int, str]:
    """Each recipient's recorded arm, by their chat id."""
    rows = await recipients_of(db, broadcast_id)
    async with db.snapshot() as store:
        found = {
            r.chat_id: await store.variants.arm_of(broadcast_id, r.respondent_id) for r in rows
        }
    return {chat: arm for chat, arm in found.items() if arm is not None}


def question_of(user: EmulatedUser) -> ChatMessage | None:
    """The survey question (the message with the 0–10 buttons)."""
    return next((m for m in user.bot_messages if "10" in m.button_texts), None)


def offers_seen(user: EmulatedUser) -> list[str]:
    return [m.text for m in user.bot_messages if m.text in (OFFER_A, OFFER_B)]


def reference(scores: list[int]) -> tuple[float, float, int]:
    """NPS, the variance of one answer and n, computed the plain way."""
    n = len(scores)
    p = sum(s >= 9 for s in scores) / n
    d = sum(s <= 6 for s in scores) / n
    return 100 * (p - d), p + d - (p - d) ** 2, n


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_split_preview_draw_variant_first_control_plain_and_the_comparison(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    users = await seed_audience(check_db, api, range(7001, 7101))
    owner = admin(api)
    preview = await preview_of(owner, f"/broadcast nps {SPLIT}")
    lines = preview.text.splitlines()
    assert "Recipients: 100 (en 100)" in lines
    assert "🧪 A/B test: each person is drawn at random into one group" in lines
    assert f" • A (~45): “{OFFER_A}”, then the question" in lines
    assert f" • B (~45): “{OFFER_B}”, then the question" in lines
    assert " • control (~10, 10%): no message, only the question" in lines
    assert any("at the same time as the others" in line for line in lines)
    # 90 offers and 100 questions at 200 messages/s.
    assert "With the variant messages: messages to send 190, ~1 s" in lines
    assert "Results: /nps by variant, or /nps compare variant:A vs variant:B" in lines
    assert all(api.deliveries(u.id) == 0 for u in users)  # nothing before Confirm
    owner.press(preview, "✅ Send to 100")
    drawn = await owner.wait_for_message(lambda m: "Groups drawn" in m.text)
    assert drawn.text == "🧪 Groups drawn and recorded: A 45 · B 45 · control 10"
    await owner.wait_for_message(lambda m: FINISHED in m.text, timeout=30)
    broadcast = await latest_broadcast(check_db)
    arms = await arms_by_chat(check_db, broadcast.id)
    assert Counter(arms.values()) == {"A": 45, "B": 45, "control": 10}
    assert sorted(arms) == [u.id for u in users]  # everyone, one arm each
    for user in users:
        arm = arms[user.id]
        question = question_of(user)
        assert question is not None
        texts = [m.text for m in user.bot_messages]
        if arm == "control":
            assert offers_seen(user) == [] and api.deliveries(user.id) == 1
        else:
            offer = OFFER_A if arm == "A" else OFFER_B
            # The offer, then the question: two messages, in that order.
            assert offers_seen(user) == [offer] and api.deliveries(user.id) == 2
            assert texts.index(offer) < texts.index(question.text)
    # Everyone answers; the scores depend on the arm.
    given: dict[str, list[int]] = {arm: [] for arm in SCORES}
    for user in users:
        arm = arms[user.id]
        score = SCORES[arm][len(given[arm]) % len(SCORES[arm])]
        given[arm].append(score)
        question = question_of(user)
        assert question is not None
        user.press(question, str(score))
    await wait_for(lambda: _scored(check_db, 100), "every answer stored", within=20)

    owner.send("/nps by variant")
    table = await owner.wait_for_message(lambda m: m.text.startswith("NPS by variant"))
    rows = {line.split()[0]: line.split() for line in table.text.splitlines()[3:6]}
    for arm, scores in given.items():
        nps, _, n = reference(scores)
        assert rows[arm][1] == str(n)
        assert rows[arm][2].rstrip("*") == f"{round(nps):+d}".replace("+0", "0")

    owner.send("/nps compare variant:A vs variant:B")
    text = (await owner.wait_for_message(lambda m: m.text.startswith("NPS compared"))).text
    nps_a, var_a, n_a = reference(given["A"])
    nps_b, var_b, n_b = reference(given["B"])
    se = 100 * math.sqrt(var_a / n_a + var_b / n_b)
    delta = nps_a - nps_b
    low = delta - 1.96 * se
    assert f"A · variant:A: NPS {round(nps_a):+d} ± " in text
    assert f"(answers: {n_a})" in text
    assert f"Difference A − B: {round(delta):+d} points (95% interval {round(low):+d} …" in text
    assert (low > 0) == ("variant:A scores higher than variant:B" in text)
    assert low > 0  # the data above: a difference the test expects to be real
    owner.send("/nps compare variant:control vs variant:A")
    text = (await owner.wait_for_message(lambda m: "variant:control vs" in m.text)).text
    assert "Too few answers to judge: each side needs at least 30 (A has 10, B has 45)" in text


async def _scored(db: Database, expected: int) -> bool:
    """True once `expected` answers to split broadcasts are stored."""
    async with db.snapshot() as store:
        ids = [s.id for s in await store.surveys.all()]
        rows = await store.variants.totals(ids, EVER[0], EVER[1])
    return sum(sum(counts[1:]) for counts in rows.values()) == expected


async def test_the_draw_is_recorded_once_even_when_the_broadcast_resumes_after_a_crash(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    bot, users, owner = await forty_at_ten_a_second(api, db_url, check_db, 7201)
    try:
        preview = await preview_of(owner, f"/broadcast nps {SPLIT}")
        owner.press(preview, "✅ Send to 40")
        await owner.wait_for_message(lambda m: "Groups drawn" in m.text)
        broadcast = await latest_broadcast(check_db)
        before = await arms_by_chat(check_db, broadcast.id)
        await api.wait_until(lambda: sum(api.deliveries(u.id) for u in users) >= 8, timeout=10)
        await bot.crash()
        sent_at_crash = sum(api.deliveries(u.id) for u in users)
        await bot.start()
        await owner.wait_for_message(lambda m: FINISHED in m.text, timeout=30)
    finally:
        await bot.stop()
    assert sent_at_crash < 2 * 36 + 4  # the crash came midway
    after = await arms_by_chat(check_db, broadcast.id)
    assert after == before  # nobody drawn again
    assert Counter(after.values()) == {"A": 18, "B": 18, "control": 4}
    statuses = Counter(r.status for r in await recipients_of(check_db, broadcast.id))
    assert set(statuses) <= {"sent", "uncertain"}, statuses
    for user in users:
        seen = offers_seen(user)
        # Never two variants, never one twice; an offer only of the person's own arm.
        assert len(seen) <= 1
        if seen:
            assert seen == [OFFER_A if after[user.id] == "A" else OFFER_B]
        else:
            assert after[user.id] == "control" or statuses["uncertain"]
        questions = [m for m in user.bot_messages if "10" in m.button_texts]
        assert len(questions) <= 1


async def test_only_admins_and_owners_can_split_and_mistakes_get_one_line(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    await seed_audience(check_db, api, range(7301, 7305))
    viewer = api.user(7401, first_name="Vic")
    await grant(check_db, 7401, "viewer")
    viewer.send(f"/broadcast nps {SPLIT}")
    await viewer.wait_for_message(
        lambda m: m.text == "/broadcast is for admins and owners; you are a viewer."
    )
    boss = api.user(7402, first_name="Ada")
    await grant(check_db, 7402, "admin")
    preview = await preview_of(boss, f"/broadcast nps lang:en {SPLIT}")
    assert "· lang:en" in preview.text.splitlines()[0]
    assert " • A (~2): " in preview.text
    owner = admin(api)
    for command, expected in [
        ('/broadcast nps split A:"only one"', "Variant A alone has nothing to be compared with"),
        ('/broadcast nps split A:"x" A:"y"', "“A” appears twice in the split"),
        ('/broadcast nps split A:"x" B:"y" control 95%', "will not do: use 1% to 90%"),
        ("/broadcast nps split A:x B:y", "I don't understand “A:x” in the split."),
        ("/broadcast nps split", "A split needs variants"),
        ('/broadcast nps vips split A:"x" B:"y"', "I don't understand the segment “vips”."),
    ]:
        owner.send(command)
        reply = await owner.wait_for_message(lambda m, e=expected: e in m.text)  # type: ignore[misc]
        assert "\n" not in reply.text
    # None of them drafted a broadcast but the admin's preview.
    assert re.search(r"Send to \d", preview.button_texts[0])


async def test_a_stop_between_an_offer_and_its_question_never_sends_the_offer_twice(
    api: BotApiEmulator, db_url: str, check_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot is stopped (SIGTERM, a deploy) after someone's offer went out and before
    their question: the question still follows, and after the restart nobody gets an
    offer again (a row given back would be sent again, offer and all)."""
    aborted, held = asyncio.Event(), asyncio.Event()
    interrupt = RateLimiter.interrupt

    def interrupted(limiter: RateLimiter) -> None:
        aborted.set()  # the worker halts its sends: it is stopping
        interrupt(limiter)

    monkeypatch.setattr(RateLimiter, "interrupt", interrupted)
    offers = {html.escape(OFFER_A), html.escape(OFFER_B)}
    held_chat: list[int] = []

    async def holding(
        port: ChatPort, limiter: RateLimiter, action: Action, *args: Any, **kwargs: Any
    ) -> Delivery:
        result = await deliver(port, limiter, action, *args, **kwargs)
        if isinstance(action, SendText) and action.html in offers and not held_chat:
            # The first offer is out; its question waits until the worker halts.
            held_chat.append(action.chat_id)
            held.set()
            await asyncio.wait_for(aborted.wait(), 15)
        return result

    monkeypatch.setattr(worker, "deliver", holding)
    bot, users, owner = await forty_at_ten_a_second(api, db_url, check_db, 7501)
    try:
        preview = await preview_of(owner, f"/broadcast nps {SPLIT}")
        owner.press(preview, "✅ Send to 40")
        await wait_for(held.is_set, "an offer sent", within=10)
        await bot.stop()  # graceful: in-flight sends finish, the queue is given back
        assert aborted.is_set()
        await bot.start()
        await owner.wait_for_message(lambda m: FINISHED in m.text, timeout=30)
    finally:
        await bot.stop()
    [chat] = held_chat
    user = next(u for u in users if u.id == chat)
    assert len(offers_seen(user)) == 1 and question_of(user) is not None, user.transcript()
    arms = await arms_by_chat(check_db, (await latest_broadcast(check_db)).id)
    for other in users:
        questions = [m for m in other.bot_messages if "10" in m.button_texts]
        assert len(questions) == 1, other.transcript()
        expected = (
            [] if arms[other.id] == "control" else [OFFER_A if arms[other.id] == "A" else OFFER_B]
        )
        assert offers_seen(other) == expected, other.transcript()


# --- a control group held back (`control 10% none`) ----------------------------------------

HELD = f'split A:"{OFFER_A}" B:"{OFFER_B}" control 10% none'
HELD_LINE = "control group held back (A/B test, not messaged): "


async def held_rows(db: Database, broadcast_id: int, arms: dict[int, str]) -> Counter[Any]:
    """The recipient rows' (status, detail) of the control group, and the others' statuses."""
    found: Counter[Any] = Counter()
    for row in await recipients_of(db, broadcast_id):
        if arms[row.chat_id] == "control":
            found[("control", row.status, row.detail)] += 1
        else:
            found[row.status] += 1
    return found


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_a_held_back_control_group_is_drawn_never_messaged_and_has_no_answers(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    users = await seed_audience(check_db, api, range(7601, 7701))
    owner = admin(api)
    # One variant and a held-back group: nothing to pair in /nps, so no compare hint.
    alone = await preview_of(owner, f'/broadcast nps split A:"{OFFER_A}" control 20% never')
    assert " • control (~20, 20%): held back, nothing is sent" in alone.text.splitlines()
    assert "/nps compare" not in alone.text
    assert alone.button_texts[0] == "✅ Send to 80"
    preview = await preview_of(owner, f"/broadcast nps {HELD}")
    lines = preview.text.splitlines()
    assert "Recipients: 100 (en 100)" in lines
    assert f" • A (~45): “{OFFER_A}”, then the question" in lines
    assert " • control (~10, 10%): held back, nothing is sent" in lines
    assert any(
        line.startswith("The control group is held back: this broadcast never") for line in lines
    )
    assert not any("at the same time as the others" in line for line in lines)
    assert " • control (~10, 10%): no message, only the question" not in lines
    # 90 offers and 90 questions: the control group's 10 are not sent anything.
    assert "With the variant messages: messages to send 180, ~1 s" in lines
    assert "Results: /nps by variant, or /nps compare variant:A vs variant:B" in lines
    assert preview.button_texts[0] == "✅ Send to 90"
    owner.press(preview, "✅ Send to 90")
    drawn = await owner.wait_for_message(lambda m: "Groups drawn" in m.text)
    assert drawn.text == "🧪 Groups drawn and recorded: A 45 · B 45 · control 10"
    summary = await owner.wait_for_message(lambda m: FINISHED in m.text, timeout=30)
    # "N of M sent" counts the people messaged: the control group is neither failed nor left.
    assert "finished: 90 of 90 sent, 0 unreachable, 0 failed." in summary.text
    assert summary.text.splitlines()[-1] == HELD_LINE + "10"
    progress = owner.message(preview.message_id)
    assert progress is not None
    assert any("Sending… 0 of 90" in text for text in progress.history)
    assert "sent 90 · unreachable 0 · failed 0 · remaining 0" in progress.text
    assert HELD_LINE + "10" in progress.text.splitlines()
    assert "skipped" not in progress.text  # not mixed with people who stopped
    broadcast = await latest_broadcast(check_db)
    arms = await arms_by_chat(check_db, broadcast.id)
    assert Counter(arms.values()) == {"A": 45, "B": 45, "control": 10}
    assert sorted(arms) == [u.id for u in users]  # the control group is recorded too
    assert await held_rows(check_db, broadcast.id, arms) == {
        "sent": 90,
        ("control", "skipped", "control"): 10,
    }
    given: dict[str, list[int]] = {"A": [], "B": []}
    for user in users:
        arm = arms[user.id]
        if arm == "control":
            # Nothing at all from this broadcast: no offer, no question.
            assert api.deliveries(user.id) == 0 and user.bot_messages == []
            continue
        assert api.deliveries(user.id) == 2
        score = SCORES[arm][len(given[arm]) % len(SCORES[arm])]
        given[arm].append(score)
        question = question_of(user)
        assert question is not None
        user.press(question, str(score))
    await wait_for(lambda: _scored(check_db, 90), "every answer stored", within=20)

    owner.send("/nps by variant")
    table = await owner.wait_for_message(lambda m: m.text.startswith("NPS by variant"))
    rows = {line.split()[0]: line.split() for line in table.text.splitlines()[3:]}
    assert rows["A"][1] == "45" and rows["B"][1] == "45"
    assert "control" not in rows  # no answers, no invitations: no row, no error
    owner.send("/nps compare variant:A vs variant:control")
    text = (await owner.wait_for_message(lambda m: "variant:A vs variant:control" in m.text)).text
    assert f"A · variant:A: NPS {round(reference(given['A'])[0]):+d} ± " in text
    assert "B · variant:control: no answers" in text
    assert text.splitlines()[-1] == (
        "Nothing to compare yet: variant:control has no answers in this period."
    )
    owner.send("/nps compare variant:control vs variant:B")
    text = (await owner.wait_for_message(lambda m: "variant:control vs variant:B" in m.text)).text
    assert "A · variant:control: no answers" in text
    assert "variant:control has no answers" in text.splitlines()[-1]


async def test_a_held_back_control_group_is_never_sent_even_after_a_crash(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    bot, users, owner = await forty_at_ten_a_second(api, db_url, check_db, 7801)
    try:
        preview = await preview_of(owner, f"/broadcast nps {HELD}")
        owner.press(preview, "✅ Send to 36")
        await owner.wait_for_message(lambda m: "Groups drawn" in m.text)
        broadcast = await latest_broadcast(check_db)
        before = await arms_by_chat(check_db, broadcast.id)
        control = [u for u in users if before[u.id] == "control"]
        await api.wait_until(lambda: sum(api.deliveries(u.id) for u in users) >= 8, timeout=10)
        await bot.crash()
        sent_at_crash = sum(api.deliveries(u.id) for u in users)
        # Stopped midway: the control group is already out of the queue, not waiting in it.
        assert await held_rows(check_db, broadcast.id, before) >= Counter(
            {("control", "skipped", "control"): 4}
        )
        await bot.start()
        summary = await owner.wait_for_message(lambda m: FINISHED in m.text, timeout=30)
    finally:
        await bot.stop()
    assert sent_at_crash < 2 * 36  # the crash came midway
    after = await arms_by_chat(check_db, broadcast.id)
    assert after == before  # nobody drawn again
    assert Counter(after.values()) == {"A": 18, "B": 18, "control": 4}
    assert len(control) == 4
    assert all(api.deliveries(u.id) == 0 and u.bot_messages == [] for u in control)
    rows = await held_rows(check_db, broadcast.id, after)
    assert rows[("control", "skipped", "control")] == 4
    assert set(rows) - {("control", "skipped", "control")} <= {"sent", "uncertain"}, rows
    assert summary.text.splitlines()[-1] == HELD_LINE + "4"
    assert " of 36 sent" in summary.text
    for user in users:
        if after[user.id] != "control":
            assert len([m for m in user.bot_messages if "10" in m.button_texts]) <= 1
