"""/integrations: how the events for the CRM are getting on, per receiver URL."""

from __future__ import annotations

from datetime import datetime

from handlers.context import UpdateContext
from handlers.events import Command, IncomingMessage
from handlers.texts import TextsLike
from nps.event_data import shown_url
from storage.repos.events import UrlStatus


def _when(ctx: UpdateContext, texts: TextsLike, moment: datetime | None) -> str:
    """ "4 Dec 14:03" in the reporting time zone, or "never"."""
    if moment is None:
        return texts.plain("ig_never")
    local = moment.astimezone(ctx.store.stats.tz)
    month = texts.plain("months").split()[local.month - 1]
    return f"{local.day} {month} {local:%H:%M}"


def _block(ctx: UpdateContext, number: int, status: UrlStatus) -> list[str]:
    texts = ctx.texts
    lines = [texts("ig_url", n=number, url=shown_url(status.url))]
    if not status.configured:
        lines.append(texts("ig_not_configured"))
    lines.append(texts("ig_backlog", backlog=status.backlog, dead=status.dead))
    lines.append(texts("ig_last_success", when=_when(ctx, texts, status.last_success_at)))
    if status.last_error is not None:
        when = _when(ctx, texts, status.last_error_at)
        lines.append(texts("ig_last_error", when=when, error=status.last_error))
    if status.next_attempt_at is not None:
        when = _when(ctx, texts, status.next_attempt_at)
        lines.append(texts("ig_next_attempt", when=when, attempt=status.head_attempts + 1))
    return lines


async def on_integrations(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Shows each receiver URL's waiting events, last delivery and last error (admins)."""
    events = ctx.store.events
    statuses = await events.status()
    if not statuses:
        ctx.out.send(event.chat_id, ctx.texts("ig_off"))
        return
    blocks = [ctx.texts("ig_title")]
    if not events.enabled:
        blocks.append(ctx.texts("ig_off"))
    for number, status in enumerate(statuses, start=1):
        blocks.append("\n".join(_block(ctx, number, status)))
    ctx.out.send(event.chat_id, "\n\n".join(blocks))
