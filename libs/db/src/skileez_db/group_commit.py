"""Group commit: the units of work of concurrent callers applied in shared transactions.

A caller submits an item and awaits its result. A few worker tasks each take one waiting item
and whatever else is already waiting (up to `batch_size`, never waiting to fill a batch) and
apply them one after the other in one transaction (`connections.transaction`): one connection
checkout, BEGIN, COMMIT and WAL flush serve the whole batch. Each item sees the writes of those
before it, every row lock is held to the commit, and no caller gets its result before the
commit. At low load a batch is one item, so nobody waits for company.

A batch is applied in the order of the items' `order` key (the rows they lock), so two batches
lock shared rows in the same order instead of waiting on each other in a cycle; a `lock_ahead`
can first lock all the rows the batch's items will each lock, in one order and few statements.
If anything in a batch raises, the batch is rolled back and each item is applied again in a
transaction of its own: an item that fails gets its own error, and never holds back the rest.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_db.connections import transaction

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

Apply = Callable[[asyncpg.Connection, T], Awaitable[R]]
"""Applies one item on a connection inside a transaction it must not end."""
Order = Callable[[T], tuple[bool | str, ...]]
"""An item's sort key in its batch, the order the items are applied in: the rows it locks
first, so every batch takes them in one order, unless `lock_ahead` takes them all before."""
LockAhead = Callable[[asyncpg.Connection, list[T]], Awaitable[None]]
"""Runs first in each transaction, with the items about to be applied in it: locks (and keeps
in the transaction's identity map), in few statements and in one order, the rows they would
each lock."""


async def take_batch(waiting: asyncio.Queue[T], batch_size: int) -> list[T]:
    """One item, waited for, and whatever else is already waiting, up to `batch_size`."""
    batch = [await waiting.get()]
    while len(batch) < batch_size and not waiting.empty():
        batch.append(waiting.get_nowait())
    return batch


@dataclass(frozen=True)
class _Submitted(Generic[T, R]):
    item: T
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    """The caller's: the item is applied in it, so what it causes (events, log lines) carries
    the caller's trace and correlation."""
    result: asyncio.Future[R] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        engine: AsyncEngine,
        apply: Apply[T, R],
        order: Order[T],
        *,
        lock_ahead: LockAhead[T] | None = None,
        workers: int = 4,
        batch_size: int = 32,
    ) -> None:
        """`workers` transactions in flight at most (each holds one pooled connection), of at
        most `batch_size` items each, applied in `order` after `lock_ahead`, if given."""
        if workers < 1 or batch_size < 1:
            raise ValueError("workers and batch_size must be at least 1")
        self._engine = engine
        self._apply = apply
        self._order = order
        self._lock_ahead = lock_ahead
        self._workers = workers
        self._batch_size = batch_size
        self._waiting: asyncio.Queue[_Submitted[T, R]] = asyncio.Queue()

    async def submit(self, item: T) -> R:
        """Apply `item` and return its result once its transaction has committed; raise what
        applying it alone raised. Needs `run` going."""
        submitted: _Submitted[T, R] = _Submitted(item)
        self._waiting.put_nowait(submitted)
        return await submitted.result

    async def run(self) -> None:
        """Apply what is submitted until cancelled; what is still waiting is then cancelled."""
        workers = [asyncio.create_task(self._work()) for _ in range(self._workers)]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            while not self._waiting.empty():
                self._waiting.get_nowait().result.cancel()

    async def _work(self) -> None:
        while True:
            batch = await take_batch(self._waiting, self._batch_size)
            # A caller that gave up (its request was cancelled) is not applied.
            batch = [submitted for submitted in batch if not submitted.result.done()]
            batch.sort(key=lambda submitted: self._order(submitted.item))
            try:
                if len(batch) > 1 and await self._applied_together(batch):
                    continue
                for submitted in batch:
                    await self._apply_alone(submitted)
            finally:
                for submitted in batch:
                    submitted.result.cancel()  # only those left unanswered by a cancellation

    async def _applied_together(self, batch: list[_Submitted[T, R]]) -> bool:
        """Apply the batch in one transaction and answer every caller after the commit; False
        (nothing answered, everything rolled back) if anything raised."""
        try:
            async with transaction(self._engine) as connection:
                results = await self._apply_in(connection, batch)
        except Exception as error:
            log.warning("rolled back a group of %d (%r); applying each alone", len(batch), error)
            return False
        for submitted, result in zip(batch, results, strict=True):
            if not submitted.result.done():
                submitted.result.set_result(result)
        return True

    async def _apply_alone(self, submitted: _Submitted[T, R]) -> None:
        try:
            async with transaction(self._engine) as connection:
                [result] = await self._apply_in(connection, [submitted])
        except Exception as error:
            if not submitted.result.done():
                submitted.result.set_exception(error)
        else:
            if not submitted.result.done():
                submitted.result.set_result(result)

    async def _apply_in(
        self, connection: asyncpg.Connection, batch: list[_Submitted[T, R]]
    ) -> list[R]:
        """Lock ahead, then apply each item in turn, in the transaction open on `connection`,
        each in its caller's context."""
        if self._lock_ahead is not None:
            await self._lock_ahead(connection, [submitted.item for submitted in batch])
        return [await self._apply_as_caller(connection, submitted) for submitted in batch]

    async def _apply_as_caller(
        self, connection: asyncpg.Connection, submitted: _Submitted[T, R]
    ) -> R:
        """Apply the item with its caller's context variables set in this worker, then put the
        worker's back: a task per item would cost each one a turn of the event loop while its
        transaction is open."""
        entered = [(var, var.set(value)) for var, value in submitted.context.items()]
        try:
            return await self._apply(connection, submitted.item)
        finally:
            for var, token in reversed(entered):
                var.reset(token)
