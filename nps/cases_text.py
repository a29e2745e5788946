"""The "Detractor cases: 12 open · 58 resolved" line under /nps and in the daily digest."""

from __future__ import annotations

from nps.nps_report import Texts


def cases_text(texts: Texts, open_: int, resolved: int) -> str:
    """The cases line; each count is its own plural message (a gettext plural takes one)."""
    return texts(
        "cases_line",
        open=texts.plain("cases_open", open=open_),
        resolved=texts.plain("cases_resolved", resolved=resolved),
    )
