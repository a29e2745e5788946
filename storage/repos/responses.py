"""Responses: each answer with its context, and the conversation step it is at.

`ResponseRepo` is one repo to its callers (`store.responses`), written in three modules
a reader can take one at a time: the row and reading it (response_rows.py), starting a
conversation and finding it again (response_start.py), and moving it through its steps
(response_steps.py).
"""

from __future__ import annotations

from storage.repos.response_start import ResponseStarts
from storage.repos.response_steps import ResponseSteps


class ResponseRepo(ResponseStarts, ResponseSteps):
    """Creates responses and moves them through their steps atomically.

    Anonymous (eNPS) responses are handled here too, so no caller can store an employee's
    identity by mistake: `start` strips it and points an anonymous thread at the row, and
    `open_for` / `belongs_to` follow that thread (see storage/repos/anonymity.py).
    """
