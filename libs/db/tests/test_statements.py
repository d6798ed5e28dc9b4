"""Staged writes: a transaction's changes to locked rows and its new rows, written together at
its commit, every table's in one statement."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skileez_db.connections import connection, transaction
from skileez_db.statements import StagedInsert, StagedUpdate

counters = Table(
    "counters",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("label", String(8), nullable=False),
    Column("n", Integer, nullable=False),
)
CHANGES = StagedUpdate(counters, ["label", "n"])
notes = Table(
    "notes",
    MetaData(),
    Column("seq", Integer, primary_key=True),
    Column("text", String(8), nullable=False),
)
NOTES = StagedInsert(notes, ["text"])


@pytest.fixture
async def engine(create_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(await create_database("statements"), pool_size=2)
    async with connection(engine) as setup:
        await setup.execute("CREATE TABLE counters (id int PRIMARY KEY, label varchar(8), n int)")
        await setup.execute("CREATE TABLE notes (seq serial PRIMARY KEY, text varchar(8))")
        await setup.execute(
            "INSERT INTO counters SELECT g, 'start', 0 FROM generate_series(1, 5) g"
        )
    yield engine
    await engine.dispose()


async def rows(engine: AsyncEngine) -> list[tuple[int, str, int]]:
    async with connection(engine) as reader:
        return [tuple(row) for row in await reader.fetch("SELECT * FROM counters ORDER BY id")]


async def test_staged_changes_are_written_at_the_commit_in_one_statement_last_values_win(
    engine: AsyncEngine,
) -> None:
    async with transaction(engine) as writing:
        queries: list[str] = []
        writing.add_query_logger(lambda record: queries.append(record.query))
        CHANGES.save(writing, 4, ["four", 1])
        CHANGES.save(writing, 2, ["two", 1])
        CHANGES.save(writing, 4, ["four", 2])  # saved twice: written once, as last saved
        assert await writing.fetchval("SELECT n FROM counters WHERE id = 4") == 0  # not yet
    assert len([query for query in queries if query.startswith("UPDATE")]) == 1
    assert await rows(engine) == [
        (1, "start", 0),
        (2, "two", 1),
        (3, "start", 0),
        (4, "four", 2),
        (5, "start", 0),
    ]


async def saving(engine: AsyncEngine, *changes: tuple[int, list[object]], fail: bool) -> None:
    async with transaction(engine) as writing:
        for key, values in changes:
            CHANGES.save(writing, key, values)
        if fail:
            raise RuntimeError("the handler failed")


async def test_a_rolled_back_transaction_writes_none_of_its_staged_changes(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(RuntimeError):
        await saving(engine, (1, ["one", 1]), fail=True)
    assert await rows(engine) == [(n, "start", 0) for n in range(1, 6)]


async def test_a_staged_value_too_long_for_its_column_fails_the_commit_and_writes_nothing(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(asyncpg.StringDataRightTruncationError):
        await saving(engine, (1, ["one", 1]), (3, ["x" * 9, 1]), fail=False)  # column: 8
    assert await rows(engine) == [(n, "start", 0) for n in range(1, 6)]


async def test_the_staged_rows_of_several_tables_are_written_in_one_statement_in_order(
    engine: AsyncEngine,
) -> None:
    queries: list[str] = []

    def log(record: asyncpg.connection.LoggedQuery) -> None:
        queries.append(record.query)

    for texts in (["one"], ["two", "three", "four"]):  # one row, then several, in each table
        async with transaction(engine) as writing:
            writing.add_query_logger(log)
            for text in texts:
                NOTES.add(writing, [text])
            CHANGES.save(writing, 1, [texts[-1], len(texts)])
            CHANGES.save(writing, 5, [texts[0], len(texts)])
        writing.remove_query_logger(log)
    writes = [query for query in queries if "notes" in query or "counters" in query]
    assert len(writes) == 2  # one statement per transaction, for both tables
    assert all("INSERT INTO notes" in query and "UPDATE counters" in query for query in writes)
    async with connection(engine) as reader:
        written = [row["text"] for row in await reader.fetch("SELECT text FROM notes ORDER BY seq")]
    assert written == ["one", "two", "three", "four"]
    assert await rows(engine) == [
        (1, "four", 3),
        (2, "start", 0),
        (3, "start", 0),
        (4, "start", 0),
        (5, "two", 3),
    ]


def test_a_table_has_one_staged_writer() -> None:
    with pytest.raises(ValueError, match="counters has a staged writer already"):
        StagedInsert(counters, ["label"])
