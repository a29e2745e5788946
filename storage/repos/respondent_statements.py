"""The respondents' driver statements (storage/driver.py: why), built once from Core
(storage/statements.py): the touch that runs with every update, and a person's first
sight (storage/repos/respondents.py runs them)."""

from __future__ import annotations

from sqlalchemy import (
    bindparam,
    delete,
    exists,
    false,
    insert,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.expression import Executable

from storage.models import Address, Channel, ProcessedUpdate, Respondent
from storage.repos import upsert_insert
from storage.statements import Statement, same
from storage.tables import table_of

TELEGRAM = Channel.TELEGRAM.value
R = table_of(Respondent)
A = table_of(Address)
# A person's columns after the id and the Telegram address, as every read returns them.
TAIL = (
    "first_name",
    "username",
    "telegram_language",
    "language_override",
    "subscribed",
    "unreachable",
    "source",
    "agent",
    "started_at",
    "last_seen_at",
)
_IS_TELEGRAM = A.c.channel == literal_column(f"'{TELEGRAM}'")
# The update with every update of a returning person: the profile refreshed, the row
# found through the Telegram address, the chat read back (a new chat is rare and written
# by a statement of its own). SET values take parameter names other than the columns'
# (SQLAlchemy keeps those for itself).
_BY_ADDRESS = _IS_TELEGRAM & (A.c.address == bindparam("address"))
_TOUCH = (
    update(R)
    .where(R.c.id == select(A.c.respondent_id).where(_BY_ADDRESS).scalar_subquery())
    .values(
        first_name=bindparam("new_first_name"),
        username=bindparam("new_username"),
        telegram_language=bindparam("new_language"),
        last_seen_at=bindparam("seen_at"),
    )
    .returning(
        R.c.id,
        select(A.c.chat).where(_BY_ADDRESS).scalar_subquery().label("chat"),
        *(R.c[name] for name in TAIL),
    )
)
_TOUCH_PARAMS = ("address", "new_first_name", "new_username", "new_language", "seen_at")
TOUCH_RETURNING = same(_TOUCH, *_TOUCH_PARAMS)


def _claim_and_touch() -> Executable:
    """PostgreSQL: the update's claim rides along in the same round trip (a data-modifying
    CTE; SQLite has none, so there the claim is a statement of its own). The outer join
    returns one row even for someone new, so the claim's result always comes back."""
    claimed = (
        postgresql.insert(ProcessedUpdate)
        .values(update_id=bindparam("update_id"), processed_at=bindparam("seen_at"))
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(literal_column("1"))
        .cte("claimed")
    )
    touched = _TOUCH.cte("touched")
    one = select(literal_column("1").label("one")).subquery("one")
    return select(exists().select_from(claimed), *touched.c).select_from(
        one.outerjoin(touched, true())
    )


CLAIM_AND_TOUCH = Statement(
    lambda _dialect: _claim_and_touch(), *_TOUCH_PARAMS, "update_id", sqlite=False
)
# Someone new: the person, then their address (a concurrent first update of the same
# user on another replica may have added it: then ours is dropped and theirs touched).
NEW_PERSON = same(
    insert(R)
    .values(
        first_name=bindparam("first_name"),
        username=bindparam("username"),
        telegram_language=bindparam("telegram_language"),
        last_seen_at=bindparam("now"),
        started_at=bindparam("now"),
        subscribed=true(),
        unreachable=false(),
        enps_link=false(),
    )
    .returning(R.c.id),
    "first_name",
    "username",
    "telegram_language",
    "now",
)
NEW_ADDRESS = Statement(
    lambda dialect: (
        upsert_insert(dialect)(A)
        .inline()  # no RETURNING of the new id (PostgreSQL would add one): only the count
        .values(
            respondent_id=bindparam("respondent_id"),
            channel=bindparam("channel"),
            address=bindparam("address"),
            chat=bindparam("chat"),
            created_at=bindparam("created_at"),
        )
        .on_conflict_do_nothing(index_elements=["channel", "address"])
    ),
    "respondent_id",
    "channel",
    "address",
    "chat",
    "created_at",
)
DROP_PERSON = same(delete(R).where(R.c.id == bindparam("person_id")), "person_id")
MOVE_CHAT = same(
    update(A).where(_BY_ADDRESS).values(chat=bindparam("new_chat")), "address", "new_chat"
)
RESTART = same(
    update(R)
    .where(R.c.id == bindparam("person_id"))
    .values(subscribed=true(), unreachable=false()),
    "person_id",
)
