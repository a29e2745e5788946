"""What people see about roles (issue 9, item 18): refusals name the role a command needs,
a person given a role is told so with their commands, the team's command menu is their own
(Telegram's chat scope), and owners can turn their own digest off."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.emulator import BotApiEmulator
from storage.db import Database
from tests.admin_helpers import grant
from tests.dialog_helpers import Talk
from tests.handlers.harness import HandlerBot
from tests.handlers.test_digest import (
    DAY,
    VIEWER,
    _has,
    ask,
    delivered,
    digest_bot,
    digests,
    freeze_clock,
    is_digest,
    local,
    seed_month,
)
from tests.scenario import OWNER_ID, wait_db

NEUTRAL = "This command is not available to you. /help lists what you can do here."
RESPONDENT_MENU = ["start", "help", "language", "stop"]


async def test_a_viewer_is_told_which_role_a_command_needs_and_an_outsider_a_neutral_line(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await grant(check_db, 7_001, "viewer")
    await grant(check_db, 7_002, "admin")
    viewer = Talk(api, 7_001, first_name="Vic")
    await viewer.say("/broadcast nps", "/broadcast is for admins and owners; you are a viewer.")
    await viewer.say("/staff", "/staff is for owners only; you are a viewer.")
    admin = Talk(api, 7_002, first_name="Ada")
    await admin.say("/grant 7001 admin", "/grant is for owners only; you are an admin.")
    russian = Talk(api, 7_003, first_name="Иван", language_code="ru")
    await grant(check_db, 7_003, "viewer")
    reply = await russian.say("/broadcast", "/broadcast доступна администраторам и владельцам")
    assert reply.text.endswith("а ваша роль — наблюдатель.")
    outsider = Talk(api, 7_004, first_name="Otto")
    reply = await outsider.say("/broadcast", NEUTRAL)
    assert reply.text == NEUTRAL and "team" not in reply.text
    await bot.idle()
    async with check_db.snapshot() as store:  # refusals changed nobody's role
        assert await store.staff.role_of(7_001) == "viewer"


async def test_a_granted_person_is_told_their_commands_and_gets_their_menu_until_revoked(
    api: BotApiEmulator, bot: HandlerBot
) -> None:
    owner = Talk(api, OWNER_ID, first_name="Olga")
    await owner.say("/help", "/grant")
    ivan = Talk(api, 555, first_name="Иван", username="ivan_k", language_code="ru")
    await ivan.say("/start", "Насколько")
    await owner.say("/grant 555 admin", "now has the admin role")
    notice = await ivan.expect("🔑 Вам выдана роль администратор")
    for command in ("/nps", "/export", "/newsurvey", "/broadcast"):
        assert command in notice.text
    assert "/grant" not in notice.text
    await bot.idle()

    # The menu of Ivan's chat lists his commands in Russian; everyone else keeps the
    # respondent's menu (the default scope).
    assert api.menu() == RESPONDENT_MENU
    menu = api.menu(555)
    assert menu[:4] == RESPONDENT_MENU
    assert {"nps", "export", "chart", "comments", "digest", "broadcast", "newsurvey"} <= set(menu)
    assert not {"grant", "revoke", "staff"} & set(menu)
    scoped = [c for c in api.calls_for("setMyCommands") if (c.params.get("scope") or {})]
    described = {c["command"]: c["description"] for c in scoped[-1].params["commands"]}
    assert described["nps"] == "Текущий NPS"

    await owner.say("/revoke 555", "no longer has a role")
    await bot.idle()
    assert api.menu(555) == []  # the chat scope is gone: Ivan sees the respondent's menu
    assert api.calls_for("deleteMyCommands")
    await ivan.say("/nps", "Эта команда вам недоступна.")

    # At start-up every team member who can be written to gets their menu: here the owner.
    await bot.restart()
    await bot.idle()
    owner_menu = api.menu(OWNER_ID)
    assert {"grant", "revoke", "staff", "broadcast", "nps"} <= set(owner_menu)
    assert api.menu(555) == []
    assert api.menu() == RESPONDENT_MENU


async def test_a_viewer_granted_before_start_up_gets_the_viewer_menu(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    vera = Talk(api, 556, first_name="Vera")
    await vera.say("/start", "How likely")
    await grant(check_db, 556, "viewer")
    await bot.restart()
    await bot.idle()
    menu = api.menu(556)
    assert {"nps", "chart", "comments", "export", "digest"} <= set(menu)
    assert not {"broadcast", "newsurvey", "grant"} & set(menu)


async def test_the_owner_hears_when_the_granted_person_never_pressed_start(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = Talk(api, OWNER_ID, first_name="Olga")
    stranger = api.user(777, first_name="Stan")
    await owner.say("/grant 777 viewer", "now has the viewer role")
    await owner.expect("I could not tell 777 about the role: they have not pressed Start")
    await bot.idle()
    assert stranger.bot_messages == []
    async with check_db.snapshot() as store:
        assert await store.staff.role_of(777) == "viewer"
    # Once they press Start, the viewer's commands are in their menu.
    stranger.send("/start")
    await stranger.wait_for_message(lambda m: "How likely" in m.text)
    await api.wait_until(lambda: "nps" in api.menu(777))
    assert not {"broadcast", "grant"} & set(api.menu(777))


async def test_an_owner_turns_their_own_digest_off(
    api: BotApiEmulator,
    db_url: str,
    check_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed_month(check_db)
    await grant(check_db, VIEWER, "viewer")
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    ivan = api.user(VIEWER, first_name="Ivan", language_code="en")
    bot = digest_bot(api, db_url)
    try:
        freeze_clock(monkeypatch, local(DAY, 8))
        await bot.start()
        await ask(owner, "/digest off", lambda t: t == "✅ Daily digest off.")
        await ask(owner, "/digest", lambda t: t.startswith("You don't get the daily digest"))
        await ask(ivan, "/digest on", lambda t: t.startswith("✅ Daily digest on"))
        await bot.stop()

        # At 09:00 the opted-in viewer gets the digest; the owner who turned it off does not.
        freeze_clock(monkeypatch, local(DAY, 9, 0, 5))
        await bot.start()
        await ivan.wait_for_message(is_digest)
        await wait_db(check_db, lambda db: _has(db, {VIEWER}))
        await bot.idle()
        assert not digests(owner)
        assert await delivered(check_db) == {VIEWER}

        # Turned on again, the owner gets the next day's.
        await ask(owner, "/digest on", lambda t: t.startswith("✅ Daily digest on"))
        await bot.stop()
        freeze_clock(monkeypatch, local(DAY + timedelta(days=1), 9, 0, 5))
        await bot.start()
        await owner.wait_for_message(is_digest)
        await bot.stop()
    finally:
        await bot.stop()
