"""Transactions driven by asyncpg itself, on connections borrowed from a SQLAlchemy pool."""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

log = logging.getLogger(__name__)

T = TypeVar("T")

Statement = tuple[str, list[object]]
"""SQL with `$1`... placeholders, and the values for them."""
Flush = Callable[[list[Any]], Statement]
"""The statement that writes the items staged for it in one transaction, before the commit."""


class IdentityMap:
    """What one transaction has locked or read, one object per (kind, key): the object a
    repository hands back for a row it kept, so rows locked ahead for a whole batch reach each
    handler locked and with the changes of the handlers before it. Small records of a
    repository's own (a lock taken) are kinds of their own."""

    def __init__(self) -> None:
        self._kept: dict[tuple[type[Any], Hashable], Any] = {}

    def get(self, kind: type[T], key: Hashable) -> T | None:
        """The `kind` kept under `key`, or None."""
        found: T | None = self._kept.get((kind, key))
        return found

    def add(self, key: Hashable, entity: object) -> None:
        """Keep `entity` under `key`, as its own class, for the rest of the transaction."""
        self._kept[(type(entity), key)] = entity

    def pop(self, kind: type[T], key: Hashable) -> T | None:
        """The `kind` kept under `key`, forgotten; None if there was none."""
        found: T | None = self._kept.pop((kind, key), None)
        return found


@dataclass
class _Hooks:
    """What one `transaction` keeps: staged writes, run before its commit; callbacks, run after
    it; and its identity map."""

    staged: dict[Flush, list[Any]] = field(default_factory=dict)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    identity_map: IdentityMap = field(default_factory=IdentityMap)


_hooks: weakref.WeakKeyDictionary[asyncpg.Connection, _Hooks] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A transaction driven by asyncpg itself, on a connection borrowed from `engine`'s pool.

    When the block ends normally, the `stage`d writes run in one statement and it commits; then
    the `after_commit` callbacks run. If anything raises, it rolls back and neither runs. Used
    on the hot paths, where SQLAlchemy's execution layer costs several times asyncpg's own
    (bench/README.md).
    """
    async with connection(engine) as borrowed:
        hooks = _hooks[borrowed] = _Hooks()
        try:
            async with borrowed.transaction():
                yield borrowed
                if hooks.staged:
                    statements = [flush(items) for flush, items in hooks.staged.items()]
                    # In one order whatever the staging order: fewer texts to prepare.
                    sql, values = _together(sorted(statements, key=lambda written: written[0]))
                    await borrowed.execute(sql, *values)
        finally:
            _hooks.pop(borrowed, None)
    for callback in hooks.after_commit:
        try:
            callback()
        except Exception:
            # Committed is committed: a failing callback must not pass for a rollback.
            log.exception("after-commit callback %r failed", callback)


@asynccontextmanager
async def connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """An asyncpg connection borrowed from `engine`'s pool, with no transaction of its own.

    Alone, for a single statement that only reads: it is its own transaction, so the BEGIN
    and COMMIT round trips of `transaction` are saved. A connection that broke, that the
    block left inside a transaction, or whose protocol an error or a cancellation interrupted
    mid-operation, is invalidated so the pool never hands it out again; after an error the
    server reported (a constraint, a lock timeout...) it is returned and reused. A connection
    the server closed also retires the rest of the pool (they were most likely closed by the
    same restart), as SQLAlchemy does for its own disconnects.
    """
    # The pool's connection record, not an engine Connection, which costs more per checkout
    # (bench/README.md). It goes back through SQLAlchemy's greenlet, as an engine Connection
    # would, so a pool that closes it (an overflow one) can await the close.
    pooled = await engine.raw_connection()
    driver: asyncpg.Connection = pooled.driver_connection
    try:
        yield driver
    except BaseException as error:
        closed_by_the_server = driver.is_closed()
        await greenlet_spawn(pooled.invalidate if _unusable(driver, error) else pooled.close)
        if closed_by_the_server:
            await engine.dispose()
        raise
    await greenlet_spawn(pooled.invalidate if driver.is_in_transaction() else pooled.close)


def _unusable(driver: asyncpg.Connection, error: BaseException) -> bool:
    return (
        driver.is_closed()
        or driver.is_in_transaction()
        or isinstance(
            error,
            asyncpg.InterfaceError
            | asyncpg.InternalClientError
            | OSError
            | TimeoutError
            | asyncio.CancelledError,
        )
    )


def server_dsn(engine: AsyncEngine) -> str:
    """The engine's database as a plain `postgresql://` DSN, for a connection of asyncpg's own."""
    return asyncpg_dsn(engine.url)


def asyncpg_dsn(url: URL | str) -> str:
    """A SQLAlchemy URL as the plain `postgresql://` DSN asyncpg parses itself, query and all:
    libpq's TLS parameters (`sslmode`, `sslrootcert`...) reach asyncpg only this way."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _together(statements: list[Statement]) -> Statement:
    """One statement that runs them all: the last as the main statement, the others as
    data-modifying `WITH` queries, each one's placeholders renumbered after the previous ones'.

    They run on one snapshot, in no set order, so none may depend on another's writes: each
    writes its own table, rows that only it writes in the transaction (`StagedInsert`'s rows,
    read back by nothing; `StagedUpdate`'s rows, locked and read back from memory)."""
    if len(statements) == 1:
        return statements[0]
    parts: list[str] = []
    values: list[object] = []
    for sql, own in statements:
        parts.append(_renumbered(sql, len(values)))
        values += own
    *written_first, main = parts
    ctes = ", ".join(f"staged_{n} AS ({sql})" for n, sql in enumerate(written_first))
    return f"WITH {ctes} {main}", values


_PLACEHOLDER = re.compile(r"\$(\d+)")


def _renumbered(sql: str, offset: int) -> str:
    return _PLACEHOLDER.sub(lambda placeholder: f"${int(placeholder[1]) + offset}", sql)


def stage(connection: asyncpg.Connection, flush: Flush, item: object) -> None:
    """Have `flush` write `item`, with the other items staged for it in the order staged, just
    before the `transaction` open on `connection` commits, in one statement with every other
    table's (`_together`: so a table has one `flush` at most); nothing on a rollback. Savepoints
    are not tracked: what a rolled-back nested transaction staged is still written."""
    _hooks_of(connection).staged.setdefault(flush, []).append(item)


def after_commit(connection: asyncpg.Connection, callback: Callable[[], None]) -> None:
    """Call `callback` (once) when the `transaction` open on `connection` has committed."""
    callbacks = _hooks_of(connection).after_commit
    if callback not in callbacks:
        callbacks.append(callback)


def identity_map(connection: asyncpg.Connection) -> IdentityMap:
    """The identity map of the `transaction` open on `connection`; every change to an entity kept
    there must be saved through its repository before the next handler runs."""
    return _hooks_of(connection).identity_map


def _hooks_of(connection: asyncpg.Connection) -> _Hooks:
    hooks = _hooks.get(connection)
    if hooks is None:
        raise RuntimeError("this needs a connection inside `transaction(engine)`")
    return hooks
