"""`connections.connection`: an asyncpg connection borrowed from the pool, no transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skileez_db.connections import after_commit, connection, server_dsn, transaction


@pytest.fixture
async def url(create_database: Callable[[str], Awaitable[str]]) -> str:
    return await create_database("connections")


@pytest.fixture
async def engine(url: str) -> AsyncIterator[AsyncEngine]:
    """A pool of one: the next borrower gets the same connection unless it was invalidated."""
    engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=5)
    yield engine
    await engine.dispose()


async def test_each_statement_is_its_own_transaction(engine: AsyncEngine) -> None:
    async with connection(engine) as borrowed:
        assert not borrowed.is_in_transaction()
        first = await borrowed.fetchval("SELECT txid_current()")
        second = await borrowed.fetchval("SELECT txid_current()")
        assert first != second
    assert engine.pool.checkedout() == 0


async def test_a_connection_the_error_left_usable_goes_back_to_the_pool(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(asyncpg.DivisionByZeroError):
        async with connection(engine) as failed:
            await failed.fetchval("SELECT 1 / 0")
    async with connection(engine) as next_one:
        assert next_one is failed
        assert await next_one.fetchval("SELECT 1") == 1


async def test_a_connection_left_in_a_transaction_is_invalidated(engine: AsyncEngine) -> None:
    left_open: list[asyncpg.Connection] = []

    async def fail_inside_a_transaction() -> None:
        async with connection(engine) as borrowed:
            left_open.append(borrowed)
            await borrowed.execute("BEGIN")
            await borrowed.execute("SET LOCAL statement_timeout = 1")
            raise RuntimeError("the block fails inside a transaction it began")

    with pytest.raises(RuntimeError):
        await fail_inside_a_transaction()
    assert left_open[0].is_closed()
    async with connection(engine) as next_one:
        assert next_one is not left_open[0]
        assert not next_one.is_in_transaction()
        assert await next_one.fetchval("SHOW statement_timeout") == "0"
    assert engine.pool.checkedout() == 0


async def test_a_connection_the_server_dropped_is_invalidated(
    engine: AsyncEngine, url: str
) -> None:
    server_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    dropped: list[asyncpg.Connection] = []

    async def read_after_the_server_dropped_it() -> None:
        async with connection(engine) as borrowed:
            dropped.append(borrowed)
            admin = await asyncpg.connect(server_url)
            try:
                await admin.execute("SELECT pg_terminate_backend($1)", borrowed.get_server_pid())
            finally:
                await admin.close()
            await borrowed.fetchval("SELECT 1")

    with pytest.raises(
        (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)
    ):
        await read_after_the_server_dropped_it()
    assert dropped[0].is_closed()
    async with connection(engine) as next_one:
        assert next_one is not dropped[0]
        assert await next_one.fetchval("SELECT 1") == 1
    assert engine.pool.checkedout() == 0


async def test_a_connection_the_server_closed_retires_the_rest_of_the_pool(url: str) -> None:
    """After a database restart every pooled connection is dead: the first failure retires
    them all, so the next borrower connects afresh instead of failing on the next one."""
    engine = create_async_engine(url, pool_size=2, max_overflow=0, pool_timeout=5)
    try:
        async with connection(engine) as one, connection(engine) as two:
            pids = [one.get_server_pid(), two.get_server_pid()]
        admin = await asyncpg.connect(server_dsn(engine))
        try:
            for pid in pids:
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        with pytest.raises(
            (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)
        ):
            async with connection(engine) as stale:
                await stale.fetchval("SELECT 1")
        async with connection(engine) as fresh:
            assert fresh.get_server_pid() not in pids
            assert await fresh.fetchval("SELECT 1") == 1
    finally:
        await engine.dispose()


async def test_a_block_that_leaves_a_transaction_open_does_not_return_it_to_the_pool(
    engine: AsyncEngine,
) -> None:
    async with connection(engine) as careless:
        await careless.execute("BEGIN")
    async with connection(engine) as next_one:
        assert next_one is not careless
        assert not next_one.is_in_transaction()


async def test_a_connection_invalidated_on_our_side_leaves_the_rest_of_the_pool(url: str) -> None:
    engine = create_async_engine(url, pool_size=2, max_overflow=0, pool_timeout=5)
    try:
        async with connection(engine) as one, connection(engine) as two:
            pids = {one.get_server_pid(), two.get_server_pid()}

        async def interrupted() -> None:
            async with connection(engine) as borrowed:
                pids.discard(borrowed.get_server_pid())
                raise asyncio.CancelledError  # mid-operation: this one is invalidated

        with pytest.raises(asyncio.CancelledError):
            await interrupted()
        async with connection(engine) as one, connection(engine) as two:
            assert {one.get_server_pid(), two.get_server_pid()} & pids == pids  # kept
    finally:
        await engine.dispose()


async def test_a_failing_after_commit_callback_is_not_taken_for_a_rollback(
    engine: AsyncEngine,
) -> None:
    called: list[str] = []

    def failing() -> None:
        called.append("failing")
        raise RuntimeError("a listener broke")

    async with transaction(engine) as writing:
        after_commit(writing, failing)
        after_commit(writing, lambda: called.append("next"))
        await writing.execute("CREATE TABLE committed (id int)")
    assert called == ["failing", "next"]
    async with connection(engine) as reader:
        assert await reader.fetchval("SELECT count(*) FROM committed") == 0


async def test_an_overflow_connection_is_closed_on_its_return(url: str) -> None:
    engine = create_async_engine(url, pool_size=1, max_overflow=1, pool_timeout=5)
    try:
        async with connection(engine) as kept, connection(engine) as overflow:
            pids = [kept.get_server_pid(), overflow.get_server_pid()]
        # The second one back finds the pool full: it is closed, on both sides.
        assert sorted([kept.is_closed(), overflow.is_closed()]) == [False, True]
        admin = await asyncpg.connect(server_dsn(engine))
        try:
            alive = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", pids
            )
        finally:
            await admin.close()
        assert alive == 1
    finally:
        await engine.dispose()
