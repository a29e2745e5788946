"""Rows to a file writer, batch by batch, off the event loop (shared by CSV and XLSX).

Rows arrive as an (async) iterable of dicts straight from the database and are handed to a
synchronous writer (a *sink*) in fixed-size batches in a worker thread, so memory stays
constant whatever the row count and the loop stays free.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from nps.export_text import Row

__all__ = ["Batches", "Progress", "Rows", "Sink"]


@dataclass(frozen=True, slots=True)
class Batches:
    """Rows that arrive already grouped, as a database cursor fetches them.

    Passing whole fetches saves an async-generator hop per row, which dominated the
    export's CPU time (a third of it at 100 000 rows).
    """

    source: AsyncIterable[Sequence[Row]]


Rows = AsyncIterable[Row] | Iterable[Row] | Batches
Progress = Callable[[int], None]

# Rows handed to the writer thread at a time: large enough that the thread hop is noise,
# small enough that one batch is a few hundred kilobytes at most.
_BATCH_ROWS = 1000

_T = TypeVar("_T")


class Sink(Protocol):
    """A synchronous writer of one export file, driven from a worker thread."""

    def write_batch(self, batch: Any) -> None:
        """Append a batch of rows."""
        ...

    def close(self) -> None:
        """Finish the file."""
        ...

    def discard(self) -> None:
        """Drop the unfinished file."""
        ...


async def _aiter(rows: AsyncIterable[_T] | Iterable[_T]) -> AsyncGenerator[_T, None]:
    """Iterate an async or a plain iterable of rows uniformly, closing the source at the end."""
    try:
        if isinstance(rows, AsyncIterable):
            async for row in rows:
                yield row
        else:
            for row in rows:
                yield row
    finally:
        # Stopping early (error, cancellation) must release a database cursor promptly rather
        # than whenever the garbage collector finalises the generator.
        aclose = getattr(rows, "aclose", None)
        if aclose is not None:
            await aclose()
        else:
            close = getattr(rows, "close", None)
            if close is not None:
                close()


async def _in_thread(
    func: Callable[..., _T], *args: Any, on_cancel: Callable[[], None] | None = None
) -> _T:
    """Run blocking work off the event loop, never abandoning it half-way.

    When the caller is cancelled, ``on_cancel`` asks the work to stop early.
    """
    future = asyncio.get_running_loop().run_in_executor(None, func, *args)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        if on_cancel is not None:
            on_cancel()
        # A thread cannot be killed: wait for it so cleanup never races the writer.
        await asyncio.wait([future])
        if not future.cancelled():
            future.exception()  # whatever stopping it raised is expected, not news
        raise


async def _batches(rows: Rows) -> AsyncGenerator[Sequence[Row], None]:
    """Groups rows into batches (or passes a cursor's own batches through)."""
    if isinstance(rows, Batches):
        async with aclosing(_aiter(rows.source)) as fetches:
            async for fetched in fetches:
                if fetched:
                    yield fetched
        return
    batch: list[Row] = []
    async with aclosing(_aiter(rows)) as stream:
        async for row in stream:
            batch.append(row)
            if len(batch) >= _BATCH_ROWS:
                yield batch
                batch = []
    if batch:
        yield batch


async def _drive(rows: Rows, sink: Sink, progress: Progress | None) -> int:
    """Feed rows to a sink batch by batch; on any failure remove the partial output.

    The next batch is fetched while the previous one is written in a worker thread, so
    the database and the file are busy at the same time (writes stay in order).
    """
    total = 0  # rows handed to the writer
    writing: asyncio.Future[None] | None = None

    async def finish_write() -> None:
        nonlocal writing
        if writing is not None:
            await writing
            writing = None
            if progress is not None:
                progress(total)

    try:
        async with aclosing(_batches(rows)) as batches:
            async for batch in batches:
                await finish_write()
                writing = asyncio.ensure_future(_in_thread(sink.write_batch, batch))
                total += len(batch)
        await finish_write()
        await _in_thread(sink.close)
    except BaseException:
        # Includes cancellation: a half-written export must not be mistaken for a whole one.
        if writing is not None:
            await asyncio.wait([writing])  # never discard under a writer still running
        sink.discard()
        raise
    return total
