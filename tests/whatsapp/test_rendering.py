"""The parts without a network: markup, the score's two lists (and the old ranges),
keywords, settings, ids."""

from __future__ import annotations

import pytest

from bot.i18n import Catalogs
from bot.settings import SettingsError, load_settings
from bot.whatsapp.client import error_of
from bot.whatsapp.events import command_text
from bot.whatsapp.render import Renderer, whatsapp_text
from handlers.port import OutsideWindow, Rejected, RetryLater, Transient, Unreachable
from handlers.respondent_messages import score_keyboard, skip_keyboard
from storage.models import Step
from storage.repos.whatsapp import wamid_message_id, wamid_update_id

SCORE_PREFIX = score_keyboard(42).rows[0][0].data.rsplit(":", 1)[0]  # type: ignore[union-attr]


def test_html_becomes_whatsapp_markup() -> None:
    html = '<b>Bold</b> <i>it</i> <s>old</s> <code>x</code> &lt;3 <a href="https://a.b/c">site</a>'
    assert whatsapp_text(html) == "*Bold* _it_ ~old~ ```x``` <3 site (https://a.b/c)"


def test_the_score_keyboard_becomes_two_lists_in_score_order() -> None:
    renderer = Renderer(Catalogs(default="en"))
    first, second = renderer.messages("How likely?", score_keyboard(42), "ru")
    lists = [first["interactive"], second["interactive"]]
    assert [i["type"] for i in lists] == ["list", "list"]
    assert [i["action"]["button"] for i in lists] == ["0 – 5", "6 – 10"]
    # The question is the first; the second says the rest; a typed number is offered once.
    assert first["interactive"]["body"]["text"] == "How likely?"
    assert second["interactive"]["body"]["text"] == "…или от 6 до 10:"
    assert first["interactive"]["footer"]["text"] == "Или напишите число от 0 до 10."
    assert "footer" not in second["interactive"]
    rows = [i["action"]["sections"][0]["rows"] for i in lists]
    assert rows[0][0]["description"] == "точно нет"
    assert rows[1][-1]["description"] == "обязательно порекомендую"
    assert [r for r in rows[0] + rows[1] if "description" in r] == [rows[0][0], rows[1][-1]]
    with pytest.raises(ValueError, match="two messages"):
        renderer.message("How likely?", score_keyboard(42), "ru")


@pytest.mark.parametrize("language", ["en", "ru", "ro", "pl"])
def test_every_score_is_one_row_of_one_list_within_whatsapps_limits(language: str) -> None:
    renderer = Renderer(Catalogs(default="en"))
    bodies = renderer.messages("x" * 2000, score_keyboard(42), language)
    ids = []
    for body in bodies:
        interactive = body["interactive"]
        [section] = interactive["action"]["sections"]
        assert len(section["rows"]) <= 10 and len(interactive["action"]["button"]) <= 20
        assert 0 < len(interactive["body"]["text"]) <= 1024
        assert len(interactive.get("footer", {}).get("text", "")) <= 60
        for row in section["rows"]:
            assert len(row["title"]) <= 24 and len(row.get("description", "")) <= 72
            ids.append(row["id"])
    # Each score once, as the handlers' own callback data, the lists in score order.
    assert ids == [f"{SCORE_PREFIX}:{s}" for s in range(11)]


def test_the_lists_split_the_scale_in_the_middle_not_at_a_group_border() -> None:
    renderer = Renderer(Catalogs(default="en"))
    bodies = renderer.messages("How likely?", score_keyboard(42), "en")
    lists = [
        [int(r["title"]) for r in body["interactive"]["action"]["sections"][0]["rows"]]
        for body in bodies
    ]
    groups = [list(range(7)), [7, 8], [9, 10]]  # detractors, passives, promoters
    assert not [scores for scores in lists if scores in groups]
    # The second list starts at 6: not where passives (7) or promoters (9) start.
    assert [scores[0] for scores in lists] == [0, 6]
    assert abs(len(lists[0]) - len(lists[1])) <= 1


def test_an_old_range_button_still_brings_its_list() -> None:
    renderer = Renderer(Catalogs(default="en"))
    second = renderer.range_list(f"nps-wa:r:ru:4:7:{SCORE_PREFIX}")
    assert second is not None
    rows = second["interactive"]["action"]["sections"][0]["rows"]
    # The rows are the handlers' own callback data; the list speaks the person's language.
    assert [r["id"] for r in rows] == [f"{SCORE_PREFIX}:{s}" for s in range(4, 8)]
    assert second["interactive"]["body"]["text"] == "Выберите оценку"
    assert renderer.range_list("nps-wa:r:en:0:3:evil") is None
    assert renderer.range_list(f"nps-wa:r:en:x:3:{SCORE_PREFIX}") is None


def test_a_skip_button_stays_a_reply_button() -> None:
    renderer = Renderer(Catalogs(default="en"))
    texts = Catalogs(default="en").texts("en")
    body = renderer.message("Why?", skip_keyboard(texts, 7, Step.WHY), "en")
    [button] = body["interactive"]["action"]["buttons"]
    assert button["reply"]["title"] == "Skip" and button["reply"]["id"].startswith("nps:")


@pytest.mark.parametrize(
    ("typed", "first", "meant"),
    [
        ("STOP", False, "/stop"),
        ("Стоп!", False, "/stop"),
        ("wypisz", False, "/stop"),
        ("My data", False, "/mydata"),
        ("delete my data", False, "/forgetme"),
        ("Hi", False, "/start"),
        ("start nps__s-shop", False, "/start nps__s-shop"),
        ("/language", False, "/language"),
        ("9", False, "9"),
        ("Where is my order?", True, "/start"),
        ("Where is my order?", False, "Where is my order?"),
    ],
)
def test_keywords_stand_for_commands(typed: str, first: bool, meant: str) -> None:
    assert command_text(typed, first_contact=first) == meant


def test_meta_errors_follow_the_port_policy() -> None:
    def error(code: int, status: int = 400) -> object:
        return error_of(status, {"error": {"code": code, "message": "m"}}, "")

    assert isinstance(error(130429), RetryLater) and isinstance(error(131056), RetryLater)
    assert isinstance(error(80007), RetryLater) and isinstance(error(1, 429), RetryLater)
    assert isinstance(error(131026), Unreachable)
    assert isinstance(error(131047), OutsideWindow)
    assert isinstance(error(131000, 500), Transient)
    assert isinstance(error_of(502, None, "<html>"), Transient)
    assert type(error(131009)) is Rejected


def test_wamids_map_to_update_and_message_ids_of_their_own() -> None:
    assert wamid_update_id("wamid.A") < 0 < wamid_message_id("wamid.A") < 2**63
    assert wamid_update_id("wamid.A") == wamid_update_id("wamid.A") != wamid_update_id("wamid.B")


def test_whatsapp_settings_come_together_and_replace_the_bot_token() -> None:
    base = {"_env_file": None, "bot_token": ""}
    with pytest.raises(SettingsError, match=r"^WHATSAPP_APP_SECRET is not set"):
        load_settings(
            **base,
            whatsapp_token="t" * 20,
            whatsapp_phone_number_id="1",
            whatsapp_verify_token="v",
        )
    settings = load_settings(
        **base,
        whatsapp_token="t" * 20,
        whatsapp_phone_number_id="1",
        whatsapp_app_secret="s" * 20,
        whatsapp_verify_token="v" * 20,
    )
    assert settings.http_enabled
    with pytest.raises(SettingsError, match=r"^BOT_TOKEN is not set"):
        load_settings(**base)
