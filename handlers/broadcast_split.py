"""A/B broadcasts: `/broadcast <survey> [segment] split A:"text" B:"text" control 10% [none]`.

The variants are messages sent right before the question (two offers, say). Everyone in
the audience is drawn at random into one arm when the broadcast is confirmed — the draw is
stored in that transaction, before anything is sent, so a restart never draws again. The
control group gets no variant message and the plain question in the same broadcast, at
the same time as the others: the only difference between the arms is the message, which
is what makes `/nps compare variant:A vs variant:control` a fair test of it.

With `control 10% none` (or `never`) the control group is held back instead: drawn and
recorded like the others (the `variant:control` segment), but never messaged by this
broadcast — its recipient rows become `skipped` ("control") in the transaction of the
draw, so no worker ever claims them, not even after a crash. It serves to compare what
people do with and without the message (orders, returns); it has no answers of its own.
"""

from __future__ import annotations

import random

from handlers.broadcast_messages import duration, number
from handlers.context import UpdateContext
from nps.ab_split import CONTROL, Split, Variant, assign, plan
from storage.repos.variants import Arm
from storage.store import Store

# The operating system's generator: assignments nobody can predict or steer.
_RANDOM = random.SystemRandom()
# A variant message in the preview is cut here (the whole text is sent).
PREVIEW_CHARS = 200


def arms_of(split: Split) -> list[Arm]:
    """The split as stored rows, in the command's order (the control group last)."""
    shares = split.shares()
    texts = {v.name: v.text for v in split.variants}
    return [
        Arm(name, texts.get(name), shares[name], held_back=name == CONTROL and split.held_back)
        for name in split.arms
    ]


def split_from(arms: list[Arm]) -> Split | None:
    """The stored rows as a split again (None for a broadcast that is not split)."""
    if not arms:
        return None
    variants = tuple(Variant(a.name, a.text or "") for a in arms if a.name != CONTROL)
    control = next((a for a in arms if a.name == CONTROL), None)
    if control is None:
        return Split(variants)
    return Split(variants, control.share, control.held_back)


def preview_lines(ctx: UpdateContext, split: Split, eligible: int) -> list[str]:
    """The preview's A/B section: each arm with its planned size and what it gets, and
    what happens to the control group."""
    texts = ctx.texts
    counts = plan(eligible, split)
    lines = ["", texts("ab_preview_title")]
    for variant in split.variants:
        shown = variant.text
        if len(shown) > PREVIEW_CHARS:
            shown = shown[: PREVIEW_CHARS - 1].rstrip() + "…"
        lines.append(
            texts(
                "ab_preview_variant",
                name=variant.name,
                count=number(texts, counts[variant.name]),
                text=shown,
            )
        )
    if split.control_share:
        # Held back (`control 10% none`) or surveyed with the others: the preview says which.
        held = split.held_back
        lines.append(
            texts(
                "ab_preview_control_held" if held else "ab_preview_control",
                count=number(texts, counts[CONTROL]),
                pct=f"{split.control_share * 100:g}",
            )
        )
        lines.append(texts("ab_preview_control_held_rule" if held else "ab_preview_control_rule"))
    if eligible:
        # The estimate above counts one message a person; the variants add theirs, and a
        # held-back control group takes its own away.
        messages = eligible + sum(counts[v.name] for v in split.variants)
        if split.held_back:
            messages -= counts.get(CONTROL, 0)
        rate = ctx.config.broadcast_rate
        lines.append(
            texts(
                "ab_preview_estimate",
                count=number(texts, messages),
                duration=duration(texts, messages / rate),
            )
        )
    if ctx.config.whatsapp_number:
        lines.append(texts("ab_preview_whatsapp"))
    if len(split.variants) > 1 or not split.held_back:
        # A held-back control group has no answers: with one variant there is no pair to
        # compare in /nps (the held-back rule above says what it is for).
        first = split.variants[0].name
        second = split.variants[1].name if len(split.variants) > 1 else CONTROL
        lines.append(texts("ab_preview_compare", a=first, b=second))
    return lines


def messaged(split: Split | None, eligible: int) -> int:
    """How many of `eligible` people the broadcast messages (a held-back control group is
    not), for the Confirm button."""
    if split is None or not split.held_back:
        return eligible
    return eligible - plan(eligible, split).get(CONTROL, 0)


async def save_split(store: Store, broadcast_id: int, split: Split) -> None:
    """Stores the preview's split with its draft."""
    await store.variants.save_arms(broadcast_id, arms_of(split))


async def assign_arms(
    store: Store, broadcast_id: int, rng: random.Random | None = None
) -> dict[str, int]:
    """Draws every enrolled recipient of a confirmed split broadcast into an arm; the
    people per arm ({} for a broadcast that is not split). Call it in the transaction that
    enrolled them: the draw is stored before the worker can claim anyone, and a held-back
    control group is taken out of the sending (`skipped`, "control") in the same commit."""
    split = split_from(await store.variants.arms(broadcast_id))
    if split is None:
        return {}
    existing = await store.variants.counts(broadcast_id)
    if existing:  # never drawn twice
        return existing
    people = await store.variants.recipients(broadcast_id)
    await store.variants.save_assignments(broadcast_id, assign(people, split, rng or _RANDOM))
    if split.held_back:
        await store.variants.hold_back(broadcast_id)
    return await store.variants.counts(broadcast_id)


def drawn_line(ctx: UpdateContext, counts: dict[str, int]) -> str:
    """ "A/B groups drawn: A 450 · B 450 · control 100" once the broadcast is confirmed."""
    order = sorted(counts, key=lambda arm: (arm == CONTROL, arm))
    parts = [f"{arm} {number(ctx.texts, counts[arm])}" for arm in order]
    return ctx.texts("ab_drawn", arms=" · ".join(parts))
