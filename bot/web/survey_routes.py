"""The survey link's routes: GET and POST `/s/<token>` (only with PUBLIC_URL).

GET shows where the answer stands (handlers/web_survey.py) and changes nothing; POST takes
one step's answer in a transaction of its own, as the pipeline runs an update (an
UpdateContext and an Outbox: alerts, events and counters happen as for Telegram), then
redirects (303) back to GET, so reloading never submits twice. Replies the answer causes
(a detractor alert for staff, the Telegram question losing its buttons) are delivered after
the commit through the runtime's port, in the background; an alert not delivered yet is
held and goes at the next start (handlers/alerts.py).

Forged POSTs: each form carries an HMAC of the link's token and a random nonce kept in an
HttpOnly, SameSite=Strict cookie (bot/web/link_tokens.py); a POST without both, or sent
cross-site, is answered 403 and stores nothing. A token that is forged or expired gets its
page before anything is read. Bodies are form-encoded and at most MAX_BODY bytes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from aiohttp import web

from bot.web.link_tokens import BadToken, new_nonce, signer_of, valid_nonce
from bot.web.survey_page import HEADERS, message_html, page_html
from handlers import web_survey
from handlers.context import UpdateContext
from handlers.port import Outbox
from handlers.texts import TextsLike

if TYPE_CHECKING:
    from bot.app import BotApp
    from storage.store import Store

log = logging.getLogger(__name__)

COOKIE = "npsbot_link"
# Two follow-up answers of MAX_TEXT characters, percent-encoded, fit with room to spare.
MAX_BODY = 32 * 1024
FORM = "application/x-www-form-urlencoded"
_STATUS = {web_survey.GONE: 410, web_survey.BUSY: 503}


class _Refused(Exception):
    """A request answered with a one-line page (status, catalog key)."""

    def __init__(self, status: int, key: str, **values: object) -> None:
        super().__init__(key)
        self.status, self.key, self.values = status, key, values


class _HideTokens(logging.Filter):
    """Keeps the links' tokens out of aiohttp's access log: whoever holds one may answer."""

    _TOKEN = re.compile(r"/s/[^\s?\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = self._TOKEN.sub("/s/<token>", message)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


def survey_link_routes(app: BotApp) -> list[web.RouteDef]:
    """GET and POST /s/{token}, when PUBLIC_URL is set; else none."""
    if not app.settings.public_url:
        return []
    access = logging.getLogger("aiohttp.access")
    if not any(isinstance(f, _HideTokens) for f in access.filters):
        access.addFilter(_HideTokens())
    pages = SurveyLinkPages(app)
    return [
        web.get("/s/{token}", pages.show, allow_head=False),
        web.post("/s/{token}", pages.submit),
    ]


def link_context(app: BotApp, store: Store, outbox: Outbox) -> UpdateContext:
    """A link answer's context as the pipeline builds an update's (its settings, texts and
    listeners); the handler sets the person and their language."""
    pipeline = app.pipeline
    return UpdateContext(
        store=store,
        out=outbox,
        catalogs=app.catalogs,
        config=pipeline.config,
        language=app.catalogs.default,
        now=app.clock(),
        hooks=pipeline.router.hooks,
    )


class SurveyLinkPages:
    """The handlers of the link's page."""

    def __init__(self, app: BotApp) -> None:
        self.app = app
        self.signer = signer_of(app.settings)
        self.secure = app.settings.public_url.startswith("https://")
        self._deliveries: set[asyncio.Task[None]] = set()

    async def show(self, request: web.Request) -> web.Response:
        """The page for where the answer stands; sets the browser's nonce cookie."""
        token = request.match_info["token"]
        cookie = request.cookies.get(COOKIE)
        nonce = cookie if cookie is not None and valid_nonce(cookie) else new_nonce()
        try:
            public_id = self._public_id(token)
            async with self.app.db.snapshot() as store:
                ctx = link_context(self.app, store, Outbox())
                page = await web_survey.show(ctx, public_id, finished="done" in request.query)
                first_name = ctx.respondent.first_name if ctx.respondent else None
        except _Refused as refused:
            return self._refusal(request, refused)
        except Exception:
            log.exception("showing a survey link failed")
            return self._refusal(request, _Refused(500, "something_wrong"))
        form_value = self.signer.form_value(token, nonce)
        response = self._html(page_html(page, form_value, first_name), page.page)
        if nonce != cookie:
            response.set_cookie(
                COOKIE, nonce, httponly=True, samesite="Strict", secure=self.secure
            )
        return response

    async def submit(self, request: web.Request) -> web.Response:
        """Takes one step's answer, then 303 back to the page."""
        token = request.match_info["token"]
        try:
            if request.headers.get("Sec-Fetch-Site") == "cross-site":
                raise _Refused(403, "web_forbidden")
            public_id = self._public_id(token)
            form = await _form(request)
            if not self.signer.form_ok(token, request.cookies.get(COOKIE), form.get("csrf")):
                raise _Refused(403, "web_forbidden")
            page = await self._answer(public_id, form)
        except _Refused as refused:
            return self._refusal(request, refused)
        except Exception:
            log.exception("a survey link's answer failed")
            return self._refusal(request, _Refused(500, "something_wrong"))
        # Relative: right behind a proxy that serves PUBLIC_URL under a path of its own.
        location = token + ("?done=1" if page.page == web_survey.THANKS else "")
        return web.Response(status=303, headers={**HEADERS, "Location": location})

    async def _answer(self, public_id: str, form: dict[str, str]) -> web_survey.LinkPage:
        """Runs the step's handler in one transaction; delivers its replies after."""
        step = form.get("step")
        outbox = Outbox()
        async with self.app.db.transaction() as store:
            ctx = link_context(self.app, store, outbox)
            if step == "score":
                try:
                    score = _score(form.get("score"))
                    page = await web_survey.answer_score(ctx, public_id, score)
                except web_survey.OffScale:
                    # Not a score this survey offers (a 9 to CSAT): nothing was written.
                    raise _Refused(400, "web_bad_request") from None
            elif step in (web_survey.WHY, web_survey.IMPROVE):
                page = await web_survey.answer_text(ctx, public_id, step, _text(form))
            else:
                raise _Refused(400, "web_bad_request")
        self._deliver(outbox)
        return page

    def _public_id(self, token: str) -> str:
        try:
            return self.signer.read(token, self.app.clock())
        except BadToken as bad:
            if bad.reason == "expired":
                raise _Refused(410, "web_link_gone") from None
            raise _Refused(404, "web_link_invalid") from None

    def _deliver(self, outbox: Outbox) -> None:
        """Sends the answer's replies through the runtime's port, after the commit."""
        port = self.app.port
        if not outbox.actions:
            return
        if port is None:  # the bot is still starting: alerts are held for the next start
            log.info("no Telegram port yet: %d replies of a link answer wait", len(outbox.actions))
            return
        task = asyncio.create_task(self.app.pipeline.deliver(outbox, port))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    def _html(self, html: str, page: str) -> web.Response:
        status = _STATUS.get(page, 200)
        headers = {**HEADERS, **({"Retry-After": "60"} if status == 503 else {})}
        return web.Response(status=status, text=html, content_type="text/html", headers=headers)

    def _refusal(self, request: web.Request, refused: _Refused) -> web.Response:
        """A one-line page in the browser's language (nothing else is known)."""
        texts = self._browser_texts(request.headers.get("Accept-Language", ""))
        html = message_html(texts, self.app.pipeline.config.brand, refused.key, **refused.values)
        return web.Response(
            status=refused.status, text=html, content_type="text/html", headers=HEADERS
        )

    def _browser_texts(self, accept_language: str) -> TextsLike:
        catalogs = self.app.catalogs
        for part in accept_language.split(",")[:10]:
            code = part.split(";")[0].strip().split("-")[0].lower()
            if catalogs.supports(code):
                return catalogs.texts(code)
        return catalogs.texts(catalogs.default)


async def _form(request: web.Request) -> dict[str, str]:
    """The form's fields (the first value of each): form-encoded, UTF-8, at most MAX_BODY."""
    if request.content_type != FORM:
        raise _Refused(415, "web_bad_request")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _Refused(413, "web_too_long", limit=web_survey.MAX_TEXT)
    body = bytearray()
    while chunk := await request.content.readany():
        body += chunk
        if len(body) > MAX_BODY:
            raise _Refused(413, "web_too_long", limit=web_survey.MAX_TEXT)
    try:
        fields: dict[str, Any] = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=8
        )
    except (UnicodeDecodeError, ValueError):
        raise _Refused(400, "web_bad_request") from None
    return {key: values[0] for key, values in fields.items()}


def _score(value: str | None) -> int:
    if value is None or not (value.isascii() and value.isdigit()) or int(value) > 10:
        raise _Refused(400, "web_bad_request")
    return int(value)


def _text(form: dict[str, str]) -> str | None:
    """The follow-up answer; None when skipped or left empty."""
    if form.get("action") == "skip":
        return None
    # Browsers send line breaks as CRLF; no text column takes a NUL.
    text = form.get("text", "").replace("\r\n", "\n").replace("\x00", "").strip()
    if len(text) > web_survey.MAX_TEXT:
        raise _Refused(413, "web_too_long", limit=web_survey.MAX_TEXT)
    return text or None
