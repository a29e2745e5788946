"""`/nps` as an owner sees it, and who may use which team command."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.emulator import BotApiEmulator
from handlers.roles import Role
from handlers.routing import create_router
from storage.db import Database
from storage.models import utcnow
from tests.admin_helpers import grant, make_survey, seed_answers, seed_invitations
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID

NOT_PERMITTED = "This command is not available to you. /help lists what you can do here."


def reference_nps(scores: list[int]) -> tuple[int, int, int, int, float]:
    """Promoters, passives, detractors, NPS and average computed the plain way."""
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    passives = len(scores) - promoters - detractors
    nps = round(100 * (promoters - detractors) / len(scores))
    return promoters, passives, detractors, nps, sum(scores) / len(scores)


async def test_owner_sees_score_groups_average_rate_and_small_sample_warning(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    scores = [10] * 7 + [8] * 2 + [3]
    await seed_answers(check_db, scores)
    await seed_invitations(check_db, 5)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/nps")
    text = (await owner.wait_for_message(lambda m: m.text.startswith("NPS ·"))).text
    promoters, passives, detractors, nps, average = reference_nps(scores)
    assert nps == 60
    assert "All surveys" not in text and "NPS · Main survey · last 30 days (" in text
    assert f"NPS +{nps} ± " in text and "(10 answers)" in text
    assert "too few answers to trust" in text
    assert (
        f"Promoters {promoters} (70%) · Passives {passives} (20%) · Detractors {detractors} (10%)"
        in text
    )
    assert f"Average score {average:.1f}" in text
    assert "Response rate 67% (10 of 15 invited)" in text
    assert "no answers to compare with" in text


async def test_change_against_the_previous_period_is_tested_for_significance(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    now = utcnow()
    before = [3] * 30 + [10] * 20 + [8] * 10  # NPS -17 forty days ago
    recent = [10] * 45 + [8] * 10 + [2] * 5  # NPS +67 now
    await seed_answers(check_db, before, at=now - timedelta(days=40), first_user=20_000)
    await seed_answers(check_db, recent, at=now - timedelta(hours=1), first_user=30_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/nps")
    text = (await owner.wait_for_message(lambda m: m.text.startswith("NPS ·"))).text
    old_nps, new_nps = reference_nps(before)[3], reference_nps(recent)[3]
    exact_delta = 100 * (45 - 5) / 60 - 100 * (20 - 30) / 60  # from unrounded scores
    assert f"NPS +{new_nps} ± " in text and "60 answers" in text
    assert "too few" not in text
    assert f": {old_nps} → now +{new_nps}  ▲ {round(exact_delta)} — significant at 95%" in text


async def test_nps_by_agent_is_an_aligned_table_with_small_segments_marked(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await seed_answers(check_db, [10] * 30 + [6] * 10, agent="olga", first_user=40_000)
    await seed_answers(check_db, [9] * 5 + [4] * 7, agent="sasha", first_user=41_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/nps by agent")
    message = await owner.wait_for_message(lambda m: m.text.startswith("NPS by agent"))
    assert "<pre>" in (message.html or "")
    lines = message.text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("agent"))
    olga, sasha = lines[header + 1].split(), lines[header + 2].split()
    assert olga[:3] == ["olga", "40", f"+{reference_nps([10] * 30 + [6] * 10)[3]}"]
    assert sasha[:3] == ["sasha", "12", str(reference_nps([9] * 5 + [4] * 7)[3]) + "*"]
    assert sasha[3] == "—" and lines[header + 3].startswith("* too few answers")
    # Columns align: every row has the same width up to the margin column.
    assert len({len(line[: len(lines[header])]) for line in lines[header : header + 3]}) == 1


async def test_nps_for_one_survey_and_a_month(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "delivery", "Доставка")
    await seed_answers(check_db, [9, 10, 10], survey_slug="delivery", first_user=42_000)
    await seed_answers(check_db, [0, 0, 0], first_user=43_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="ru")
    month = utcnow().strftime("%Y-%m")
    owner.send(f"/nps delivery {month}")
    text = (await owner.wait_for_message(lambda m: m.text.startswith("NPS · Доставка"))).text
    assert "NPS +100" in text and "ответов: 3" in text


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("nosuch", 'There is no survey "nosuch". Known surveys: nps.'),
        ("2026-13", 'I don\'t understand the period "2026-13"'),
        ("2026-11-01..2026-10-01", 'The range "2026-11-01..2026-10-01" starts after it ends'),
        (
            "by colour",
            "Use /nps by agent, by source, by campaign, by language, by channel, by survey"
            " or by variant",
        ),
        ("nps 30d extra", "I don't understand"),
    ],
)
async def test_bad_arguments_get_one_line_with_an_example(
    api: BotApiEmulator, bot: HandlerBot, arguments: str, expected: str
) -> None:
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send(f"/nps {arguments}")
    reply = await owner.wait_for_message()
    assert expected in reply.text and "\n" not in reply.text
    assert any(w in reply.text for w in ("e.g.", "Example", " like 2026-10"))


def _staff_commands() -> dict[str, Role]:
    router = create_router()
    every = set(router.commands_for(Role.OWNER))
    public = set(router.commands_for(Role.NONE))
    needed = {}
    for role in (Role.OWNER, Role.ADMIN, Role.VIEWER):
        for name in router.commands_for(role):
            needed[name] = role
    return {name: needed[name] for name in sorted(every - public)}


STAFF_COMMANDS = _staff_commands()


def refusal(command: str, have: Role, needed: Role) -> str:
    """What someone below a command's role is told: team members hear which role it needs."""
    if have == Role.NONE:
        return NOT_PERMITTED
    who = {Role.VIEWER: "a viewer", Role.ADMIN: "an admin"}[have]
    audience = "admins and owners" if needed == Role.ADMIN else "owners only"
    return f"/{command} is for {audience}; you are {who}."


@pytest.mark.parametrize("role_name", ["outsider", "viewer", "admin", "owner"])
async def test_every_team_command_checks_the_role_on_every_call(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database, role_name: str
) -> None:
    assert {"nps", "grant", "revoke", "staff"} <= set(STAFF_COMMANDS)
    await seed_answers(check_db, [10, 2], why="secret comment")
    user_id = OWNER_ID if role_name == "owner" else 7_000
    if role_name in ("viewer", "admin"):
        await grant(check_db, user_id, role_name)
    role = {"outsider": Role.NONE, "viewer": Role.VIEWER, "admin": Role.ADMIN, "owner": Role.OWNER}
    user = api.user(user_id, first_name="Someone", language_code="en")
    for name, needed in STAFF_COMMANDS.items():
        before = len(user.bot_messages)
        user.send(f"/{name}")
        await api.wait_until(lambda b=before: len(user.bot_messages) > b)
        await bot.idle()
        replies = user.bot_messages[before:]
        if role[role_name] >= needed:
            refused = (NOT_PERMITTED, f"/{name} is for ")
            assert not any(r.text.startswith(refused) for r in replies), (name, role_name)
        else:
            expected = [refusal(name, role[role_name], needed)]
            assert [r.text for r in replies] == expected, (name, role_name)
            assert not any(r.document or r.photo for r in replies)
    if role_name in ("viewer", "admin"):
        # Revoked: the very next call is refused.
        async with check_db.transaction() as store:
            await store.staff.revoke(user_id)
        user.send("/nps")
        await user.wait_for_message(lambda m: m.text == NOT_PERMITTED)


async def test_owner_grants_lists_and_revokes_roles(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    ivan = api.user(555, first_name="Ivan", username="ivan_k", language_code="en")
    ivan.send("/nps")
    await ivan.wait_for_message(lambda m: m.text == NOT_PERMITTED)
    owner.send("/grant @ivan_k viewer")
    await owner.wait_for_message(
        lambda m: m.text == "✅ Ivan (@ivan_k · 555) now has the viewer role."
    )
    ivan.send("/nps")
    await ivan.wait_for_message(lambda m: m.text.startswith("NPS ·"))
    ivan.send("/grant 556 admin")  # a viewer cannot grant
    await ivan.wait_for_message(lambda m: m.text == refusal("grant", Role.VIEWER, Role.OWNER))
    owner.send("/staff")
    listing = await owner.wait_for_message(lambda m: m.text.startswith("Team"))
    assert "owner · Olga (900)" in listing.text and "viewer · Ivan (@ivan_k · 555)" in listing.text
    for wrong, answer in [
        ("/grant", "Use /grant"),
        ("/grant 555 boss", "Use /grant"),
        ("/grant @nobody viewer", 'I don\'t know the user "@nobody"'),
        (f"/grant {OWNER_ID} viewer", "is an owner (ADMIN_IDS)"),
        ("/revoke", "Use /revoke"),
    ]:
        owner.send(wrong)
        await owner.wait_for_message(
            lambda m, a=answer: a in m.text and m.message_id > listing.message_id
        )
    owner.send("/revoke 555")
    await owner.wait_for_message(lambda m: "no longer has a role" in m.text)
    ivan.send("/nps")
    await api.wait_until(lambda: [m.text for m in ivan.bot_messages].count(NOT_PERMITTED) == 2)
