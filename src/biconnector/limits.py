"""Counted slots: how many of one kind of work may run at once in this process."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from biconnector.errors import ConnectorError


class Slots:
    """At most `limit` holders per key; one more gets the error `refuse` makes."""

    def __init__(self, limit: int, refuse: Callable[[str], ConnectorError]) -> None:
        self.limit = limit
        self._refuse = refuse
        self._held: Counter[str] = Counter()

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        if self._held[key] >= self.limit:
            raise self._refuse(key)
        self._held[key] += 1
        try:
            yield
        finally:
            self._held[key] -= 1
            if not self._held[key]:
                del self._held[key]
