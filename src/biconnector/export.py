"""The data endpoint's body: the header, then the rows as the engine writes them, streamed.

The body is one JSON array: the header first, then one array per row. Each chunk of rows
from the engine is sent as it comes, so memory holds a batch, never the table. A stream
that breaks off leaves the array unclosed, which no JSON parser accepts as a complete
answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

import anyio

from biconnector import logs

# JSON allows whitespace between any two tokens: a space keeps the connection from falling
# silent while the database works, and the body still parses.
KEEPALIVE = b" "
# Seconds allowed for a read-ahead to stop once cancelled.
_STOP_TIMEOUT = 5.0


def header(names: Sequence[str]) -> bytes:
    return ("[" + json.dumps(list(names), ensure_ascii=False)).encode()


async def paced(chunks: AsyncIterator[bytes], interval: float) -> AsyncGenerator[bytes, None]:
    """The chunks, read one ahead, with `KEEPALIVE` whenever ``interval`` seconds pass
    without one.

    Bitrix24 gives up on a response that sends nothing for about a minute (PROTOCOL.md),
    while a query may take longer than that to find its first row.
    """
    pending = asyncio.ensure_future(anext(chunks, None))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield KEEPALIVE
                continue
            chunk = pending.result()
            if chunk is None:
                return
            # The next chunk is read while this one is sent, so the database keeps working
            # while the client receives: one chunk of read-ahead.
            pending = asyncio.ensure_future(anext(chunks, None))
            yield chunk
    finally:
        if not pending.done():
            # The read ahead is stopped and waited for even when this stream itself is being
            # cancelled (a client gone), so that the rows' clean-up finds them at rest.
            pending.cancel()
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await asyncio.wait({pending}, timeout=_STOP_TIMEOUT)


async def body(
    names: Sequence[str], first: bytes | None, rest: AsyncIterator[bytes]
) -> AsyncGenerator[bytes, None]:
    """The whole answer: ``[header,row,row...]``, with keep-alive spaces where they came."""
    yield header(names)
    chunk, rows = first, 0
    try:
        while chunk is not None:
            # Yielding to the event loop between chunks lets other requests run, and lets a
            # client's disconnect be seen, even when the driver had rows buffered already.
            await asyncio.sleep(0)
            if chunk is KEEPALIVE:
                yield chunk
            else:
                rows += getattr(chunk, "rows", 0)
                yield b"," + chunk
            chunk = await anext(rest, None)
        yield b"]"
        # Reached once the last byte has gone out: an export that failed, was cut short by
        # a shutdown or lost its client never gets here.
        logs.note(complete=True)
    finally:
        logs.note(rows=rows)
