"""A survey answered through its link (`{PUBLIC_URL}/s/<token>`, sent by the business by SMS
or e-mail; the page is bot/web/survey_routes.py's): the same response, steps, listeners
(alerts, CRM events, counters) as an answer in Telegram, through handlers/survey.py's
`take_score` and `take_text`.

The link names an invitation. Its answer is the invitation's one response, whichever way
comes first: if the bot sent the question in Telegram, the link continues that response
(the Telegram question shows the score, its buttons go); else the first score through the
link takes the invitation (the sender no longer sends it) and opens the response, for a
person known by the invited phone number alone too. Opening the page changes nothing
(mail scanners open links); only a submitted answer does, and once a step is answered
another submission of it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.context import UpdateContext
from handlers.kinds import is_anonymous
from handlers.states import group_of
from handlers.survey import take_score, take_text
from handlers.texts import TextsLike
from nps.phones import phone_language
from nps.scales import NPS, Scale, scale_of
from storage.invitation_models import InvitationStatus
from storage.models import Channel, Step
from storage.repos.invitations import (
    ANONYMOUS_SURVEY,
    BLOCKED,
    INVITATION_CHANNEL,
    NO_CHANNEL,
)
from storage.repos.response_rows import ResponseRow
from storage.repos.response_start import AnswerContext
from storage.repos.survey_links import TAKEABLE, LinkInvitation
from storage.repos.surveys import SurveyView

# The pages a link shows.
QUESTION = "question"  # the score question (0–10, CSAT 1–5, CES 1–7)
WHY = Step.WHY.value  # the first follow-up
IMPROVE = Step.IMPROVE.value  # the second follow-up
THANKS = "thanks"  # right after the last follow-up
ANSWERED = "answered"  # opened again once answered
GONE = "gone"  # cancelled, suppressed, closed unanswered, forgotten
BUSY = "busy"  # the bot is sending it in Telegram this very moment
# Unreachable invitations whose link still works: the bot cannot write to the person, the
# business can. Not for /stop (the person asked for no surveys) nor a Telegram id nobody
# has (no person to answer as).
LINK_REASONS = frozenset({NO_CHANNEL, BLOCKED})
MAX_TEXT = 2000  # characters of a follow-up answer


def link_works(status: str, reason: str | None) -> bool:
    """Whether an invitation in this state (as the API reads it) has a working link."""
    if status in (InvitationStatus.SUPPRESSED, InvitationStatus.CANCELLED):
        return False
    if status == InvitationStatus.UNREACHABLE:
        return reason in LINK_REASONS
    if status == InvitationStatus.FAILED:
        return reason != ANONYMOUS_SURVEY  # the survey became anonymous (eNPS)
    return True


@dataclass(frozen=True)
class LinkPage:
    """What the link's page shows, in the person's language."""

    page: str  # QUESTION, WHY, IMPROVE, THANKS, ANSWERED, GONE or BUSY
    texts: TextsLike  # the page's language, with the survey's own wording
    brand: str
    score: int | None = None
    name: str = ""  # how the thanks address the person
    review_url: str | None = None
    kind: str = NPS  # the survey's kind: its scale's buttons, its groups' wording

    @property
    def scale(self) -> Scale:
        """The scores the question offers."""
        return scale_of(self.kind)

    @property
    def group(self) -> str | None:
        """promoter, passive or detractor (the kind's high, middle, low), once scored."""
        return group_of(self.score, self.kind) if self.score is not None else None


class OffScale(ValueError):
    """A submitted score that is not on the survey's scale (a forged form: the page
    offers only the scale's scores)."""


@dataclass
class _Found:
    invitation: LinkInvitation
    survey: SurveyView
    response: ResponseRow | None


async def show(ctx: UpdateContext, public_id: str, *, finished: bool = False) -> LinkPage:
    """The page the link shows now (`finished`: the answer was just completed here)."""
    found = await _load(ctx, public_id)
    return _page(ctx, found, finished=finished)


async def answer_score(ctx: UpdateContext, public_id: str, score: int) -> LinkPage:
    """Takes the score when the question is what the link shows; else changes nothing.
    OffScale when the score is not on the survey's scale (a 9 to a 1–5 CSAT question)."""
    found = await _load(ctx, public_id)
    if found is None or _page(ctx, found).page != QUESTION:
        return _page(ctx, found)
    if not scale_of(found.survey.kind).contains(score):
        raise OffScale(f"{score} is not on the {found.survey.kind} scale")
    response = found.response
    if response is None:
        response = await _take(ctx, found)
        if response is None:  # someone else took it first
            return await show(ctx, public_id)
    else:
        # Asked in Telegram, answered here: the answer and its invitation count as web's.
        await ctx.store.responses.move_to_messenger(response, Channel.WEB.value)
    if await take_score(ctx, response, score, None) is None:
        return await show(ctx, public_id)  # a Telegram tap won
    found.response = response
    return _page(ctx, found)


async def answer_text(ctx: UpdateContext, public_id: str, step: str, text: str | None) -> LinkPage:
    """Takes a follow-up answer (None: skipped) when `step` is what the link shows."""
    found = await _load(ctx, public_id)
    if found is None or found.response is None or _page(ctx, found).page != step:
        return _page(ctx, found)
    response = found.response
    # Scored here, the person was asked nothing more in Telegram: the message the response
    # names there is the 0–10 question, which keeps the score it shows.
    asked_in_telegram = response.messenger != Channel.WEB
    if await take_text(ctx, response, text, close_prompt=asked_in_telegram) is None:
        return await show(ctx, public_id)
    return _page(ctx, found, finished=True)


async def _load(ctx: UpdateContext, public_id: str) -> _Found | None:
    """The link's invitation, survey and response; sets the context's person and language.
    None when the link no longer leads anywhere."""
    store = ctx.store
    invitation = await store.survey_links.invitation(public_id)
    if invitation is None or not link_works(invitation.status, invitation.reason):
        return None
    survey = await store.surveys.get(invitation.survey_id)
    if survey is None or is_anonymous(survey.kind):
        return None  # an eNPS answer must never be tied to the person invited
    response = None
    if invitation.response_id is not None:
        response = await store.responses.get(invitation.response_id)
        if response is None:
            return None
    person_id = invitation.respondent_id
    if response is not None:
        person_id = response.respondent_id  # None once the person was forgotten
    ctx.respondent = await store.respondents.get(person_id) if person_id is not None else None
    ctx.language = await _language(ctx, invitation, response)
    return _Found(invitation, survey, response)


async def _language(
    ctx: UpdateContext, invitation: LinkInvitation, response: ResponseRow | None
) -> str:
    """The answer's language once asked; else the invitation's (the API's `language`);
    else the person's; else their number's country's; else the context's
    (DEFAULT_LANGUAGE)."""
    catalogs = ctx.catalogs
    if response is not None and catalogs.supports(response.language):
        return response.language
    if catalogs.supports(invitation.language):
        return str(invitation.language)
    person = ctx.respondent
    if person is not None:
        for code in (person.language_override, person.telegram_language):
            base = (code or "").split("-")[0].split("_")[0].lower()
            if catalogs.supports(base):
                return base
    phone = invitation.key_address if invitation.key_channel == Channel.PHONE else None
    if phone is None and person is not None:
        phone = await ctx.store.phones.of(person.id)
    guessed = phone_language(phone) if phone else None
    return guessed if guessed and catalogs.supports(guessed) else ctx.language


def _page(ctx: UpdateContext, found: _Found | None, *, finished: bool = False) -> LinkPage:
    """The page for where the answer stands."""
    if found is None:
        return LinkPage(GONE, ctx.texts, ctx.config.brand)
    survey, response = found.survey, found.response
    texts, brand = ctx.survey_texts(survey), ctx.brand_of(survey)
    sending = found.invitation.status in (InvitationStatus.CLAIMED, InvitationStatus.SENDING)
    if response is None:
        takeable = found.invitation.status in TAKEABLE
        return LinkPage(
            QUESTION if takeable else BUSY if sending else GONE, texts, brand, kind=survey.kind
        )
    score, step = response.score, response.step
    if score is None:
        if step == Step.SCORE:
            return LinkPage(QUESTION, texts, brand, kind=survey.kind)
        # Claimed for Telegram: its response opens once the message is sent.
        return LinkPage(BUSY if sending else GONE, texts, brand, kind=survey.kind)
    if step in (WHY, IMPROVE):
        return LinkPage(step, texts, brand, score, kind=survey.kind)
    person = ctx.respondent
    name = (person.first_name if person else None) or ctx.texts.plain("friend")
    page = THANKS if finished and step == Step.DONE else ANSWERED
    return LinkPage(page, texts, brand, score, name, survey.review_url, survey.kind)


async def _take(ctx: UpdateContext, found: _Found) -> ResponseRow | None:
    """Takes the invitation for the link and opens its response at the score step; None
    when another request took it first."""
    store, invitation = ctx.store, found.invitation
    person_id = invitation.respondent_id
    if person_id is None and invitation.key_channel != Channel.PHONE:
        return None  # a Telegram id nobody has: nobody to answer as (link_works says so)
    if not await store.survey_links.take(invitation.row_id, invitation.status):
        return None
    if person_id is None:  # a number nobody had: the person is known by it from now on
        person_id = await store.survey_links.person_for_phone(invitation.key_address, ctx.now)
    person = ctx.respondent
    if person is None or person.id != person_id:
        person = ctx.respondent = await store.respondents.get(person_id)
    response = await store.responses.start(
        survey_id=found.survey.id,
        respondent_id=person_id,
        # The person's Telegram chat, if any: a reply from staff reaches them there.
        chat_id=person.chat_id if person is not None else None,
        language=ctx.language,
        # Without a tag of its own the person's is used, as for an invitation in Telegram.
        context=AnswerContext(
            source=person.source if person is not None else None,
            agent=person.agent if person is not None else None,
            channel=INVITATION_CHANNEL,
            messenger=Channel.WEB.value,
        ),
        asked_at=ctx.now,
        anonymous=False,
        attributes=invitation.attributes,
    )
    await store.survey_links.attach(invitation.row_id, response.id, person_id)
    return response
