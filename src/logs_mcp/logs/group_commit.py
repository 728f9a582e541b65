"""Group commit: inserts that arrive while others run wait, and go in together as one insert.

Most of what an insert costs ClickHouse on this store does not depend on its size: planning the native
path's view (~50 ms of CPU), the rollup views, the part written with its indexes and projection. A
512-record request cost ~60 ms by the Python path and ~110 ms by the native one, a 15,000-record one
~160 ms (see docs/benchmarks.md, "Ingest"). So concurrent requests are stored in fewer, larger inserts.
No request waits for a timer: one that finds a writer free is inserted at once, and only the requests
arriving while ``writers`` inserts run wait for the next one.

Each request still gets its own answer, once its rows are stored: when a joint insert fails (an insert
is stored whole or not at all), its requests are inserted again one by one, so a request that fails, or
one the native view refuses, does not take the others down with it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Pending(Generic[Item, Result]):
    item: Item
    size: int
    woken: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    finished: bool = False
    result: Result | None = None
    error: Exception | None = None


class GroupCommit(Generic[Item, Result]):
    """``insert(item, size)`` stores an item, ``writers`` inserts at a time: alone by ``insert_alone``,
    or with the items waiting behind it (up to ``max_size`` in all) by ``insert_together``, whose result
    then answers each of them."""

    def __init__(
        self,
        insert_alone: Callable[[Item], Result],
        insert_together: Callable[[Sequence[Item]], Result],
        *,
        writers: int,
        max_size: int,
    ) -> None:
        self._insert_alone = insert_alone
        self._insert_together = insert_together
        self._max_size = max_size
        self._lock = threading.Lock()
        self._waiting: deque[_Pending[Item, Result]] = deque()
        self._free_writers = writers

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def insert(self, item: Item, size: int) -> Result:
        pending: _Pending[Item, Result] = _Pending(item, size)
        with self._lock:
            self._waiting.append(pending)
            if self._free_writers:
                self._free_writers -= 1
                pending.leads = True
        if not pending.leads:
            pending.woken.wait()  # with its answer, or to lead the next insert
        if pending.leads:
            self._lead(pending)
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]  # set when finished without error

    def _lead(self, own: _Pending[Item, Result]) -> None:
        """Inserts the waiting items, in as many joint inserts as it takes to store ``own``, then hands
        the writer to the first item still waiting."""
        while not own.finished:
            batch = self._next_batch()
            self._store(batch)
            for pending in batch:
                pending.finished = True
                if pending is not own:
                    pending.woken.set()
        with self._lock:
            if self._waiting:
                self._waiting[0].leads = True
                self._waiting[0].woken.set()
            else:
                self._free_writers += 1

    def _next_batch(self) -> list[_Pending[Item, Result]]:
        with self._lock:
            batch = [self._waiting.popleft()]
            size = batch[0].size
            while self._waiting and size + self._waiting[0].size <= self._max_size:
                size += self._waiting[0].size
                batch.append(self._waiting.popleft())
        return batch

    def _store(self, batch: list[_Pending[Item, Result]]) -> None:
        if len(batch) > 1 and self._stored_together(batch):
            return
        for pending in batch:
            try:
                pending.result = self._insert_alone(pending.item)
            except Exception as error:  # raised in the request's own thread
                pending.error = error

    def _stored_together(self, batch: list[_Pending[Item, Result]]) -> bool:
        try:
            result = self._insert_together([pending.item for pending in batch])
        except Exception:  # nothing of it was stored: each is inserted again alone
            return False
        for pending in batch:
            pending.result = result
        return True
