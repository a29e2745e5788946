"""What a respondent can do at any point: /help, /stop, /language; blocking the bot."""

from __future__ import annotations

from handlers.access import role_of
from handlers.callbacks import LanguageChoice, pack
from handlers.context import UpdateContext
from handlers.events import BlockChange, ButtonPress, Command, IncomingMessage
from handlers.port import Button, Keyboard
from handlers.survey import reask_current


async def on_help(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Explains what the bot does and lists its commands (team commands for the team)."""
    parts = [ctx.texts("help", brand=ctx.config.brand)]
    role = await role_of(ctx, event.sender.id)
    for needed, key in ctx.hooks.help_sections:
        if role >= needed:
            parts.append(ctx.texts(key))
    ctx.out.send(event.chat_id, "\n\n".join(parts))


async def on_stop(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Unsubscribes the user from surveys; /start subscribes again."""
    assert ctx.respondent is not None
    await ctx.store.respondents.set_subscribed(ctx.respondent.id, False)
    ctx.out.send(event.chat_id, ctx.texts("stopped"))


async def on_language(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Offers the supported languages as buttons (or sets one given as `/language ru`)."""
    wanted = command.args.strip().lower()
    if wanted and ctx.catalogs.supports(wanted):
        await _set_language(ctx, event.chat_id, wanted)
        return
    buttons = [
        Button(ctx.catalogs.texts(code).plain("language_name"), pack(LanguageChoice(code)))
        for code in ctx.catalogs.languages
    ]
    ctx.out.send(
        event.chat_id, ctx.texts("choose_language"), Keyboard.of(buttons[:4], buttons[4:])
    )


async def on_language_pressed(
    event: ButtonPress, choice: LanguageChoice, ctx: UpdateContext
) -> None:
    """Switches the user's language and repeats the pending question in it."""
    if not ctx.catalogs.supports(choice.code):
        ctx.out.answer(event.callback_id, ctx.texts.plain("bad_button"), alert=True)
        return
    ctx.out.answer(event.callback_id)
    if event.message_id is not None:
        texts = ctx.catalogs.texts(choice.code)
        ctx.out.edit(event.chat_id, event.message_id, texts("language_set"))
        await _set_language(ctx, event.chat_id, choice.code, confirm=False)
    else:
        await _set_language(ctx, event.chat_id, choice.code)


async def _set_language(
    ctx: UpdateContext, chat_id: int, code: str, *, confirm: bool = True
) -> None:
    assert ctx.respondent is not None
    await ctx.store.respondents.set_language(ctx.respondent.id, code)
    ctx.language = code
    if confirm:
        ctx.out.send(chat_id, ctx.texts("language_set"))
    response = await ctx.store.responses.open_for(ctx.respondent.id)
    if response is not None:
        # The answer keeps the language it was asked in: its invitation was counted in
        # that segment, and so is its score (a response rate never exceeds 100 %).
        await reask_current(ctx, response)


async def on_block_change(event: BlockChange, ctx: UpdateContext) -> None:
    """Marks a user who blocked the bot unreachable (and reachable again on unblock)."""
    person = ctx.respondent or await ctx.store.respondents.by_telegram(event.sender.id)
    if person is not None:
        await ctx.store.respondents.set_reachable(person.id, not event.blocked)


async def on_cancel(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Cancels whatever the user is in the middle of (a dialog, a reply)."""
    for cancel in ctx.hooks.cancellers:
        if await cancel(event, ctx):
            return
    ctx.out.send(event.chat_id, ctx.texts("nothing_to_cancel"))


async def on_unknown_command(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Answers a command the bot does not know with a pointer to /help."""
    ctx.out.send(event.chat_id, ctx.texts("unknown_command"))
