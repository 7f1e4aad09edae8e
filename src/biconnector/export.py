"""Rows to the JSON body of the data endpoint, written batch by batch.

The body is one JSON array: the header first, then one array per row. Each batch of rows
becomes one chunk of text, so memory holds a batch, never the table. A stream that breaks
off leaves the array unclosed, which no JSON parser accepts as a complete answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from typing import Any

from biconnector.values import Encoder


def header(names: Iterable[str]) -> str:
    return "[" + json.dumps(list(names), ensure_ascii=False)


def batch(rows: Iterable[Sequence[Any]], encoders: Sequence[Encoder]) -> str:
    return "".join(
        ",[" + ",".join(encode(value) for encode, value in zip(encoders, row, strict=True)) + "]"
        for row in rows
    )


async def body(
    names: Sequence[str],
    encoders: Sequence[Encoder],
    first: Sequence[Sequence[Any]],
    rest: AsyncIterator[Sequence[Sequence[Any]]],
) -> AsyncGenerator[bytes, None]:
    yield (header(names) + batch(first, encoders)).encode()
    async for rows in rest:
        # A driver with rows already buffered, and a send that need not wait, would let this
        # loop run without ever reaching the event loop's I/O poll (seen with asyncmy under
        # uvloop): other requests would stall and a client's disconnect would go unnoticed.
        await asyncio.sleep(0)
        yield batch(rows, encoders).encode()
    yield b"]"
