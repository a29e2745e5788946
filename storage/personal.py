"""Which tables hold a person's data, and how /mydata and forgetting treat each one.

Every table of the schema is declared here, once: either `Personal` (rows about a person,
found by the columns that hold their id — the person's internal id, or for the team's and
chats' tables their Telegram user id, `Key`; /mydata lists them and /forgetme or
/forget erases them as declared) or `NotPersonal` with the reason. PrivacyRepo reads this
registry, so a table registered as personal is exported and erased with no other code,
and tests/storage/test_trust_personal_registry.py compares it with the SQLAlchemy metadata:
a new table that is not declared here fails the build.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import ColumnElement, Table, false, or_

# Every module that defines tables, so that the registry and Base.metadata agree.
from storage import (
    admin_models,
    autopilot_models,
    broadcast_models,
    case_models,
    event_models,
    invitation_models,
    models,
    outbox_models,
    split_models,
    theme_models,
)
from storage.models import Base

MODEL_MODULES = (
    models,
    broadcast_models,
    case_models,
    admin_models,
    outbox_models,
    invitation_models,
    autopilot_models,
    event_models,
    theme_models,
    split_models,
)


class Erase(StrEnum):
    """What forgetting does to the rows about the person."""

    DELETE = "delete"  # the rows go
    DETACH = "detach"  # the person's columns (and `clear`) become NULL; the rest stays
    KEEP = "keep"  # kept, for the reason given in `kept_because`


class Key(StrEnum):
    """Which of a person's ids a table's person columns hold."""

    PERSON = "person"  # the respondent's internal id (respondents.id), whatever the channel
    # A Telegram user or private-chat id: the team (owners, staff, digests, dialogs) are
    # Telegram accounts, and chats are Telegram's.
    TELEGRAM = "telegram"


@dataclass(frozen=True)
class Who:
    """The ids one person is known by: their internal id and their Telegram user id."""

    person_id: int | None
    telegram_id: int | None


class Shown(StrEnum):
    """Where /mydata shows the rows about the person."""

    PROFILE = "profile"  # the profile section (respondents)
    ANSWERS = "answers"  # the answers section (responses)
    ROLE = "team_role"  # the team role line (staff)
    RECORDS = "records"  # the file's "records" section, the table's rows as stored


@dataclass(frozen=True)
class Personal:
    """A table whose rows are about a person, found by the columns holding their id."""

    person: tuple[str, ...]
    erase: Erase
    shown: Shown = Shown.RECORDS
    # More columns about the person (name, chat, free text, message ids): cleared with
    # the person's id by DETACH, gone with the row by DELETE.
    clear: tuple[str, ...] = ()
    # Other columns that look personal but are not this person's (e.g. who granted a role).
    others: Mapping[str, str] = field(default_factory=dict)
    kept_because: str = ""
    key: Key = Key.PERSON

    def about(self, table: Table, who: Who) -> ColumnElement[bool]:
        """The condition selecting the person's rows (none when they lack that id)."""
        value = who.person_id if self.key == Key.PERSON else who.telegram_id
        if value is None:
            return false()
        return or_(*(table.c[name] == value for name in self.person))


@dataclass(frozen=True)
class NotPersonal:
    """A table with nothing about any one person; `reason` says why."""

    reason: str


Entry = Personal | NotPersonal

_STAFF_ACTION = "the team member who did it: the team's record of its own actions"

PERSONAL_DATA: dict[str, Entry] = {
    # storage/models.py
    "surveys": NotPersonal("survey definitions; `name` is the survey's"),
    "respondents": Personal(
        ("id",), Erase.DELETE, Shown.PROFILE, clear=("first_name", "username")
    ),
    # How the person is reached (Telegram user and chat, phone, WhatsApp…): /mydata lists
    # them with the profile; they go with the person.
    "addresses": Personal(
        ("respondent_id",), Erase.DELETE, Shown.PROFILE, clear=("address", "chat")
    ),
    "responses": Personal(
        ("respondent_id",),
        Erase.DETACH,
        Shown.ANSWERS,
        # Comments are free text that may name the person, and so may an invitation's
        # order id and custom attributes (a CRM's own fields); the score stays, counted.
        clear=("chat_id", "start_payload", "prompt_message_id", "why", "improve", "attributes"),
        others={"superseded_by": "the newer response that replaced this one (a response id)"},
    ),
    "processed_updates": NotPersonal("update ids only, to process each update once"),
    "score_counts": NotPersonal("counters per survey, day and segment"),
    "staff": Personal(
        ("user_id",),
        Erase.KEEP,
        Shown.ROLE,
        others={"granted_by": _STAFF_ACTION},
        kept_because="an access right: an owner takes it away with /revoke",
        key=Key.TELEGRAM,
    ),
    "digest_deliveries": Personal(("user_id",), Erase.DELETE, key=Key.TELEGRAM),
    # An owner's "/digest off": forgetting them turns their digest back on.
    "digest_optouts": Personal(("user_id",), Erase.DELETE, key=Key.TELEGRAM),
    # storage/broadcast_models.py
    "broadcasts": NotPersonal("created_by, cancelled_by and admin_chat_id are " + _STAFF_ACTION),
    # A recipient row links the (detached) answer it carried back to the person.
    "broadcast_recipients": Personal(("respondent_id",), Erase.DELETE, clear=("chat_id",)),
    # Imported by Telegram user id (a bot cannot write first: they join once they press Start).
    "contacts": Personal(
        ("user_id",),
        Erase.DELETE,
        clear=("name", "phone"),
        others={"imported_by": _STAFF_ACTION},
        key=Key.TELEGRAM,
    ),
    "contact_import_requests": Personal(("user_id",), Erase.DELETE, key=Key.TELEGRAM),
    "survey_reminders": NotPersonal(
        "keyed by response: a forgotten person's responses are detached, and reminders "
        "go only to responses with a respondent"
    ),
    "broadcast_workers": NotPersonal("sending processes"),
    # storage/case_models.py
    "detractor_cases": Personal(
        ("respondent_id",), Erase.DETACH, others={"resolved_by": _STAFF_ACTION}
    ),
    "case_alerts": NotPersonal("where a case's alert was posted: a staff chat"),
    "pending_replies": Personal(
        ("staff_id",),
        Erase.DELETE,
        others={"chat_id": "the staff chat the reply is typed in"},
        key=Key.TELEGRAM,
    ),
    "case_threads": Personal(
        ("respondent_id",),
        Erase.DELETE,
        others={
            "staff_chat_id": "the staff chat that wrote to the person",
            "staff_id": "the team member who pressed Reply",
        },
    ),
    # An alert waiting for a chat the bot cannot write to yet (an owner who never pressed
    # Start): the case it is about is detached when its respondent is forgotten.
    "undelivered_alerts": Personal(("chat_id",), Erase.DELETE, key=Key.TELEGRAM),
    # storage/admin_models.py
    "staff_dialogs": Personal(("user_id",), Erase.DELETE, key=Key.TELEGRAM),
    "anonymous_threads": NotPersonal(
        "keyed by a salted hash, never an id; forgetting closes the person's thread "
        "(AnonymityRepo.close_for_user)"
    ),
    "anonymous_answers": NotPersonal(
        "a salted hash per survey, no time, no answer: kept so nobody answers an eNPS "
        "survey twice; /mydata names those surveys"
    ),
    "app_secrets": NotPersonal("generated secrets (the anonymity salt)"),
    # storage/outbox_models.py
    "outbox": Personal(("chat_id",), Erase.DELETE, key=Key.TELEGRAM),
    # storage/autopilot_models.py: schedules and their daily runs; the people a run
    # enrols are its broadcast's recipients (personal, above).
    "autopilots": NotPersonal("created_by is " + _STAFF_ACTION),
    "autopilot_runs": NotPersonal("a schedule's day: counts and the broadcast it made"),
    # storage/invitation_models.py: what a CRM asked to send the person (their Telegram id
    # or phone, the attributes it gave); forgetting drops them, a scheduled one unsent.
    "invitations": Personal(
        ("respondent_id",), Erase.DELETE, clear=("key_address", "chat", "attributes")
    ),
    # storage/event_models.py: events for the CRM carry the person's Telegram id, phone and
    # comments. Forgetting deletes them, sent or not: one still waiting is never sent (the
    # CRM learns nothing more about someone who asked to be forgotten); one delivered is
    # the CRM's copy, like an alert in a staff chat, and cannot be recalled from here.
    "events": Personal(("person_id",), Erase.DELETE, clear=("data",)),
    "whatsapp_statuses": NotPersonal(
        "a WhatsApp message's delivery status by a hash of Meta's message id: no person, "
        "no address, no content"
    ),
    "event_deliveries": NotPersonal(
        "an event's progress to one URL (attempts, errors): deleted with its event"
    ),
    "event_endpoints": NotPersonal("per receiver URL: its last success and last error"),
    # storage/split_models.py: A/B broadcasts. The arms are the owner's messages; a
    # person's arm goes with them, like their recipient row (their answer, detached, then
    # counts in no arm).
    "broadcast_arms": NotPersonal("a split broadcast's variant messages, written by the team"),
    "broadcast_assignments": Personal(("respondent_id",), Erase.DELETE),
    # storage/theme_models.py: themes of comments (issue 15).
    "themes": NotPersonal("the team's theme dictionary: keys and words"),
    "response_themes": NotPersonal(
        "an answer's themes (response id, theme key), read from its comments: a forgotten "
        "person's are deleted with their comments (PrivacyRepo.forget_who)"
    ),
    "theme_marks": NotPersonal(
        "which dictionary version read an answer and its comments' length: no text"
    ),
    "theme_suggestions": NotPersonal(
        "suggested theme keys and their top terms, counted over many comments"
    ),
}


def personal_tables() -> list[tuple[Table, Personal]]:
    """The personal tables with their entries, in registry order."""
    return [
        (Base.metadata.tables[name], entry)
        for name, entry in PERSONAL_DATA.items()
        if isinstance(entry, Personal)
    ]
