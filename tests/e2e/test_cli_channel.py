"""`npsbot stats --by channel` as a real process: the table per messaging channel."""

from __future__ import annotations

from pathlib import Path

from storage.db import Database
from tests.channel_helpers import answer_through
from tests.e2e.test_cli_export import _env, npsbot


async def test_stats_by_channel_prints_a_row_per_messaging_channel(
    db_url: str, check_db: Database, tmp_path: Path
) -> None:
    for user, (messenger, score) in enumerate(
        [("telegram", 10), ("whatsapp", 3), ("whatsapp", 10), ("web", 9)], start=900
    ):
        await answer_through(check_db, messenger, user, score)
    code, stdout, stderr = await npsbot(tmp_path, _env(db_url), "stats", "--by", "channel")
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0] == "NPS by channel" and lines[2].split()[:2] == ["channel", "n"]
    table = {line.split()[0]: line.split()[1:3] for line in lines[3:6]}
    assert table == {"whatsapp": ["2", "0*"], "telegram": ["1", "+100*"], "web": ["1", "+100*"]}
