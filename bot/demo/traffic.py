"""The demo's "Simulate traffic" button (issue 14): a few hundred back-dated answers from
simulated customers over the last 90 days, then a few demo customers who answer a low
score right now through the emulator, so that real detractor alerts reach the owner."""

from __future__ import annotations

import asyncio
import math
import random
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as clock

from bot.demo.people import (
    CUSTOMERS,
    IMPROVE,
    OWNER,
    WHY,
    DemoPerson,
    SimulatedCustomer,
    simulated_customers,
)
from bot.emulator import BotApiEmulator, ChatMessage, ChatView
from bot.settings import Settings
from handlers.deeplink import build_payload
from handlers.kinds import is_anonymous
from nps.nps_math import Group, classify
from storage.db import Database
from storage.models import utcnow
from storage.repos.history import PastAnswer, PastCase, PastPerson

DAYS = 90
BATCH = 50  # answers per transaction: the running bot's writers get their turn in between
# Agents and how their customers feel (a tilt of the score mix): one great, one poor.
AGENT_TILT = {"olga": 1.2, "marek": 0.6, "ana": -0.2, "victor": -1.0}
# Where answers come from: share, tilt, and whether an agent handled the interaction.
SOURCES = {"shop": (30, 0.2, True), "call": (35, -0.2, True), "web": (20, 0.1, False)}
SOURCES["app"] = (15, -0.15, False)
SCORE_BASE = (3, 1, 2, 2, 3, 5, 7, 12, 16, 18, 31)  # a tilt of 0: NPS about +26
TILT_STEEPNESS = 0.25
HOUR_WEIGHTS = {8: 2, 9: 5, 10: 8, 11: 10, 12: 10, 13: 8, 14: 7, 15: 7, 16: 8, 17: 10}
HOUR_WEIGHTS |= {18: 10, 19: 8, 20: 5, 21: 3}
WRITES_WHY = {Group.PROMOTER: 0.55, Group.PASSIVE: 0.65, Group.DETRACTOR: 0.85}
WRITES_IMPROVE = {Group.PROMOTER: 0.35, Group.PASSIVE: 0.55, Group.DETRACTOR: 0.7}
UNANSWERED = 0.12  # extra questions nobody answered (response rate ~ 88 %)
STOPPED_AFTER_SCORE = 0.06
RETURNING = 0.15  # answers from someone who answered before, through another door
LIVE_SCORES = (1, 2, 3, 4, 5)

# One press at a time per database (two would pick the same new people) and per emulator
# (two customers' conversations must not be told apart by the same waits).
_LOCKS: weakref.WeakKeyDictionary[object, asyncio.Lock] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class TrafficSummary:
    """What one press of "Simulate traffic" added."""

    # Scored answers given: the history's and the live detractors' (a demo customer who
    # answers again through the same link replaces their earlier answer, as anyone's).
    answers: int
    live_detractors: int
    history_answers: int = 0
    invitations: int = 0  # questions asked in the history (answered or not)
    people: int = 0  # new simulated customers
    open_cases: int = 0  # history detractor cases left open
    resolved_cases: int = 0
    history_seconds: float = 0.0  # the time to write the history


@dataclass
class _Plan:
    """The history about to be written: its people (in first-seen order) and answers."""

    people: dict[int, PastPerson] = field(default_factory=dict)
    answers: list[PastAnswer] = field(default_factory=list)


async def simulate_traffic(
    db: Database,
    emulator: BotApiEmulator,
    *,
    owner_id: int,
    settings: Settings,
    answers: int = 300,
    live_detractors: int = 3,
    seed: int = 14,
    timeout: float = 15.0,  # noqa: ASYNC109 - a deadline per awaited bot message
) -> TrafficSummary:
    """Writes the history, then has demo customers answer a low score through the bot.

    The bot must be running against `db` and `emulator`. Alerts go where the bot sends
    them (ALERT_CHAT_ID, else each owner in ADMIN_IDS): an owner who never pressed Start
    presses it first, and the call returns once every live alert arrived with its reason.
    """
    history = await write_history(
        db, owner_id=owner_id, settings=settings, answers=answers, seed=seed
    )
    rng = random.Random(f"live-{seed}-{history.people}")
    chosen = rng.sample(CUSTOMERS, min(live_detractors, len(CUSTOMERS)))
    async with db.snapshot() as store:
        survey = await store.surveys.default()
    slug = survey.slug if survey is not None else None
    async with _LOCKS.setdefault(emulator, asyncio.Lock()):
        alert_chat = await _alert_chat(emulator, owner_id, settings, timeout)
        for person in chosen:
            mark = _last_id(alert_chat) if alert_chat is not None else 0
            why = await _answer_live(emulator, person, slug, rng, timeout)
            if alert_chat is not None:  # the alert, with the reason added to it
                await alert_chat.wait_for_message(_alert_of(person, why, mark), timeout=timeout)
    return replace(history, answers=history.answers + len(chosen), live_detractors=len(chosen))


async def write_history(
    db: Database,
    *,
    owner_id: int,
    settings: Settings,
    answers: int = 300,
    seed: int = 14,
    now: datetime | None = None,
) -> TrafficSummary:
    """Writes `answers` back-dated answers of new simulated customers to the default
    survey, in short transactions (the bot may be running on the same database)."""
    if str(db.tz) != str(settings.tz):
        raise ValueError(f"the database counts days in {db.tz}, the bot in {settings.tz}")
    started = time.perf_counter()
    now = now or utcnow()
    async with _LOCKS.setdefault(db, asyncio.Lock()):
        async with db.transaction() as store:
            survey = await store.surveys.default() or await store.surveys.ensure_default()
        if is_anonymous(survey.kind):
            raise ValueError(f"the default survey {survey.slug!r} is anonymous (eNPS)")
        wanted = answers + math.ceil(answers * UNANSWERED)
        customers, skipped = await _new_customers(db, wanted, seed)
        rng = random.Random(f"history-{seed}-{skipped}")
        plan = _plan(rng, customers, survey.id, survey.slug, answers, owner_id, now, settings)
        ids: dict[int, int] = {}
        for start in range(0, len(plan.answers), BATCH):
            batch = plan.answers[start : start + BATCH]
            async with db.transaction() as store:
                new = {a.telegram_id: plan.people[a.telegram_id] for a in batch}
                ids |= await store.history.add_people([p for i, p in new.items() if i not in ids])
                for answer in batch:
                    await store.history.record(answer, ids[answer.telegram_id])
    cases = [a.case for a in plan.answers if a.case is not None]
    resolved = sum(1 for c in cases if c.resolved_at is not None)
    scored = sum(1 for a in plan.answers if a.scored_at is not None)
    return TrafficSummary(
        answers=scored,
        live_detractors=0,
        history_answers=scored,
        invitations=len(plan.answers),
        people=len(plan.people),
        open_cases=len(cases) - resolved,
        resolved_cases=resolved,
        history_seconds=time.perf_counter() - started,
    )


async def _new_customers(
    db: Database, wanted: int, seed: int
) -> tuple[list[SimulatedCustomer], int]:
    """`wanted` simulated customers nobody has been yet (a second press brings new
    people), and how many of the sequence were already there."""
    found: list[SimulatedCustomer] = []
    skipped = 0
    sequence = simulated_customers(seed)
    while len(found) < wanted:
        candidates = [next(sequence) for _ in range(wanted - len(found))]
        async with db.snapshot() as store:
            taken = await store.history.taken([c.id for c in candidates])
        found += [c for c in candidates if c.id not in taken]
        skipped += len(taken)
    return found, skipped


def _plan(
    rng: random.Random,
    customers: list[SimulatedCustomer],
    survey_id: int,
    slug: str,
    answers: int,
    owner_id: int,
    now: datetime,
    settings: Settings,
) -> _Plan:
    """Who answers when, through which door, with what score and words (no I/O)."""
    tz = settings.tz
    today = now.astimezone(tz).date()
    days = [today - timedelta(days=back) for back in range(DAYS - 1, -1, -1)]
    unanswered = math.ceil(answers * UNANSWERED)
    moments = [_moment(rng, day, tz) for day in _spread(rng, days, answers)]
    old_days = days[: DAYS - 3]  # unanswered questions: too old for a reminder to be due
    moments += [_moment(rng, rng.choice(old_days), tz) for _ in range(unanswered)]
    answered = [True] * answers + [False] * unanswered
    plan = _Plan()
    new_people = iter(customers)
    doors: dict[int, set[tuple[str, str | None]]] = {}
    for asked, will_answer in sorted(zip(moments, answered, strict=True)):
        source = rng.choices(list(SOURCES), [s[0] for s in SOURCES.values()])[0]
        agent = rng.choice(list(AGENT_TILT)) if SOURCES[source][2] else None
        door = (source, agent)
        person = _who(rng, plan, doors, door, new_people)
        doors.setdefault(person.id, set()).add(door)
        answer = PastAnswer(
            telegram_id=person.id,
            survey_id=survey_id,
            language=person.language_code,
            asked_at=asked,
            source=source,
            agent=agent,
            start_payload=build_payload(slug, source=source, agent=agent),
        )
        if will_answer:
            progress = (asked - (now - timedelta(days=DAYS))) / timedelta(days=DAYS)
            tilt = AGENT_TILT.get(agent or "", 0.0) + SOURCES[source][1] + 0.3 * progress - 0.15
            answer = _answered(rng, answer, _score(rng, tilt), now, owner_id)
        plan.answers.append(answer)
        last = answer.improve_at or answer.why_at or answer.scored_at or asked
        _seen(plan, person, asked, last, door)
    _one_left_open(plan.answers)
    return plan


def _spread(rng: random.Random, days: list[date], n: int) -> Iterator[date]:
    """`n` days: every day once (when n allows), the rest weighted (quieter weekends, a
    growing business, some days busier than others)."""
    weights = [
        (0.55 if day.weekday() >= 5 else 1.0)
        * (0.85 + 0.3 * i / len(days))
        * rng.uniform(0.6, 1.4)
        for i, day in enumerate(days)
    ]
    base = days if n >= len(days) else []
    yield from base
    yield from rng.choices(days, weights, k=n - len(base))


def _moment(rng: random.Random, day: date, tz: tzinfo) -> datetime:
    """A moment of the local day in opening hours (UTC)."""
    hour = rng.choices(list(HOUR_WEIGHTS), list(HOUR_WEIGHTS.values()))[0]
    local = clock(hour, rng.randrange(60), rng.randrange(60), rng.randrange(1_000_000))
    return datetime.combine(day, local, tzinfo=tz).astimezone(UTC)


def _who(
    rng: random.Random,
    plan: _Plan,
    doors: dict[int, set[tuple[str, str | None]]],
    door: tuple[str, str | None],
    new_people: Iterator[SimulatedCustomer],
) -> DemoPerson:
    """A returning customer who has not come through this door yet, or someone new (the
    same door twice within the cooldown would replace the first answer)."""
    if plan.people and rng.random() < RETURNING:
        known = [p for p in plan.people.values() if door not in doors.get(p.telegram_id, set())]
        if known:
            back = rng.choice(known)
            return DemoPerson(back.telegram_id, back.first_name, back.language_code)
    return next(new_people)


def _seen(
    plan: _Plan, person: DemoPerson, asked: datetime, last: datetime, door: tuple[str, str | None]
) -> None:
    """Adds the person, or moves their last visit and origin on."""
    known = plan.people.get(person.id)
    if known is None:
        username = person.username if isinstance(person, SimulatedCustomer) else None
        # Pressed Start (or opened the link) a few seconds before the question came.
        first = asked - timedelta(seconds=2)
        known = PastPerson(
            person.id, person.first_name, username, person.language_code, first, last
        )
    plan.people[person.id] = replace(
        known, last_seen=max(known.last_seen, last), source=door[0], agent=door[1]
    )


def _score(rng: random.Random, tilt: float) -> int:
    """A 0–10 score from the base mix, leaning up (happy) or down (unhappy) with `tilt`."""
    weights = [w * math.exp(TILT_STEEPNESS * tilt * (s - 7)) for s, w in enumerate(SCORE_BASE)]
    return rng.choices(range(11), weights)[0]


def _answered(
    rng: random.Random, answer: PastAnswer, score: int, now: datetime, owner_id: int
) -> PastAnswer:
    """The answer with its score, follow-ups and detractor case, at believable times."""
    group = classify(score)
    why_pool, improve_pool = (said[answer.language][group.value] for said in (WHY, IMPROVE))
    delays = [
        min(rng.lognormvariate(4.5, 1.3), 6 * 3600.0),  # reading the question
        rng.uniform(15, 150),  # typing why
        rng.uniform(10, 120),  # typing what to improve
    ]
    asked = answer.asked_at
    latest = now - timedelta(seconds=60)
    if asked + timedelta(seconds=sum(delays)) > latest:  # today's: all of it before now
        asked = latest - timedelta(seconds=sum(delays) + rng.uniform(0, 3600))
    scored = asked + timedelta(seconds=delays[0])
    why_at = scored + timedelta(seconds=delays[1])
    improve_at = why_at + timedelta(seconds=delays[2])
    why = rng.choice(why_pool) if rng.random() < WRITES_WHY[group] else None
    improve = rng.choice(improve_pool) if rng.random() < WRITES_IMPROVE[group] else None
    stopped = rng.random() < STOPPED_AFTER_SCORE
    case = None
    if group is Group.DETRACTOR:
        recent = scored > now - timedelta(days=10)
        resolved_at = scored + timedelta(minutes=rng.uniform(20, 30 * 60))
        # A few open ones, mostly recent: the team works through the older ones.
        if rng.random() < (0.6 if recent else 0.97) and resolved_at < latest:
            case = PastCase(owner_id, resolved_at)
        else:
            case = PastCase()
    return replace(
        answer,
        asked_at=asked,
        score=score,
        scored_at=scored,
        why=None if stopped else why,
        why_at=None if stopped else why_at,
        improve=None if stopped else improve,
        improve_at=None if stopped else improve_at,
        case=case,
    )


def _one_left_open(answers: list[PastAnswer]) -> None:
    """Leaves the newest detractor case open when chance resolved them all (the owner's
    views always have one to act on)."""
    cases = [i for i, a in enumerate(answers) if a.case is not None]
    if cases and all(answers[i].case.resolved_at for i in cases):  # type: ignore[union-attr]
        answers[cases[-1]] = replace(answers[cases[-1]], case=PastCase())


# --------------------------------------------------------------------------- live answers


def _last_id(chat: ChatView) -> int:
    """The newest message id of a chat (0: none yet)."""
    return max((m.message_id for m in chat.messages), default=0)


def _newer(after: int, *, buttons: bool = False) -> Callable[[ChatMessage], bool]:
    """Matches a bot message posted after message `after` (with `buttons`: a question)."""
    return lambda m: m.message_id > after and (bool(m.buttons) or not buttons)


def _alert_of(person: DemoPerson, why: str, after: int) -> Callable[[ChatMessage], bool]:
    """Matches the alert about the person's answer, posted after message `after`, once it
    shows their reason ("Emily (id 1001)"; staff see the Telegram id)."""
    return lambda m: m.message_id > after and f"id {person.id})" in m.text and why in m.text


async def _alert_chat(
    emulator: BotApiEmulator, owner_id: int, settings: Settings, within: float
) -> ChatView | None:
    """The chat the alerts go to, in the emulator (the owner presses Start first if they
    never did); None when the owner gets none and there is no alert group to watch."""
    if settings.alert_chat_id is not None:
        return emulator.find_chat(settings.alert_chat_id)
    if owner_id not in settings.admin_ids:
        return None
    owner = emulator.users.get(owner_id)
    if owner is None or not owner.started:
        owner = emulator.user(owner_id, OWNER.first_name, language_code=OWNER.language_code)
        mark = _last_id(owner)
        owner.send("/start")
        await owner.wait_for_message(_newer(mark), timeout=within)
    return owner


async def _answer_live(
    emulator: BotApiEmulator,
    person: DemoPerson,
    slug: str | None,
    rng: random.Random,
    within: float,
) -> str:
    """The customer opens their link, taps a low score and types both answers (the
    reason is returned)."""
    said = WHY[person.language_code]["detractor"], IMPROVE[person.language_code]["detractor"]
    why, improve = rng.choice(said[0]), rng.choice(said[1])
    user = emulator.user(person.id, person.first_name, language_code=person.language_code)
    link = build_payload(slug, source=person.source, agent=person.agent) if slug else ""
    mark = _last_id(user)
    user.send(f"/start {link}".strip())
    prompt = await user.wait_for_message(_newer(mark, buttons=True), timeout=within)
    user.press(prompt, str(rng.choice(LIVE_SCORES)))
    for text in (why, improve):  # each follow-up question comes with a Skip button
        prompt = await user.wait_for_message(_newer(prompt.message_id, buttons=True), within)
        user.send(text)
    await user.wait_for_message(_newer(_last_id(user)), timeout=within)  # the thanks
    return why
