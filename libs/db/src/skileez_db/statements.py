"""SQL for asyncpg built once from a table's column names, and a row's values in that order.

Only names from the services' table metadata are formatted into SQL, never a value: the
values travel as `$n` parameters.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql.base import PGDialect

from skileez_db.connections import Statement, stage

_POSTGRESQL = PGDialect()  # type: ignore[no-untyped-call]  # its constructor is not annotated
E = TypeVar("E")

_TYPMOD = re.compile(r"\(\d+(,\s*\d+)?\)")


def rows_touched(status: str) -> int:
    """How many rows a command changed, from asyncpg's status of it (`DELETE 3`, `UPDATE 2`)."""
    return int(status.split()[-1])


def select_sql(table: Table, columns: Sequence[str]) -> str:
    """`SELECT columns FROM table`, for the caller to add its WHERE, ORDER BY or lock."""
    return f"SELECT {', '.join(columns)} FROM {table.name}"


def insert_sql(table: Table, columns: Sequence[str]) -> str:
    """`INSERT INTO table (columns) VALUES ($1, ...)`."""
    placeholders = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})"


def insert_rows_sql(table: Table, columns: Sequence[str]) -> str:
    """`INSERT INTO table (columns) SELECT ... FROM unnest($1::type[], ...)`: many rows in one
    statement, each parameter an array of one column's values (`_arrays`), inserted in the
    arrays' order."""
    arrays = _arrays(table, columns)
    names = ", ".join(columns)
    return (
        f"INSERT INTO {table.name} ({names}) SELECT {names} FROM unnest({arrays})"
        f" WITH ORDINALITY AS staged ({names}, position) ORDER BY position"
    )


_STAGED: weakref.WeakSet[Table] = weakref.WeakSet()


def _staged_by_one(table: Table) -> None:
    """Give a table one staged writer at most: a transaction's staged writes run in one
    statement (`connections.stage`), where two writes of one table could meet on a row and one
    would be lost without an error."""
    if table in _STAGED:
        raise ValueError(f"table {table.name} has a staged writer already")
    _STAGED.add(table)


class StagedInsert:
    """Rows a transaction adds to a table, written together just before it commits.

    `add` stages a row (`connections.stage`); at the commit, one row is one INSERT and several
    are one `INSERT ... unnest`, in the order added, in the statement that writes everything the
    transaction staged. For rows nothing reads back in the same transaction (the outbox,
    notifications).
    """

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        _staged_by_one(table)
        self._insert_one = insert_sql(table, columns)
        self._insert_many = insert_rows_sql(table, columns)

    def add(self, connection: asyncpg.Connection, row: Sequence[object]) -> None:
        """Stage `row` (values in the columns' order); needs a `connections.transaction`."""
        stage(connection, self._write, row)

    def _write(self, rows: list[Sequence[object]]) -> Statement:
        if len(rows) == 1:
            return self._insert_one, list(rows[0])
        return self._insert_many, [list(column) for column in zip(*rows, strict=True)]


def update_sql(table: Table, columns: Sequence[str]) -> str:
    """`UPDATE table SET column = $2, ... WHERE id = $1`."""
    assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(columns, start=2))
    return f"UPDATE {table.name} SET {assignments} WHERE id = $1"


def update_rows_sql(table: Table, columns: Sequence[str]) -> str:
    """`UPDATE table SET column = staged.column, ... FROM unnest($1::key[], $2::type[], ...)
    ... WHERE id = staged.id`: many rows in one statement, the first array their ids."""
    assignments = ", ".join(f"{name} = staged.{name}" for name in columns)
    return (
        f"UPDATE {table.name} SET {assignments}"
        f" FROM unnest({_arrays(table, ['id', *columns])}) AS staged (id, {', '.join(columns)})"
        f" WHERE {table.name}.id = staged.id"
    )


class StagedUpdate:
    """Changes a transaction makes to rows it holds locked, written together just before it
    commits.

    `save` stages a row's new values (`connections.stage`); at the commit, one row is one
    UPDATE and several are one `UPDATE ... FROM unnest` (the rows are locked already, so the
    order they are written in does not matter), in the statement that writes everything the
    transaction staged; a row saved twice is written once, with its last values. Only for
    rows that the transaction reads back through the one object it keeps for each
    (`connections.identity_map`), never with SQL: SQL would not see the staged values.
    """

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        _staged_by_one(table)
        self._update_one = update_sql(table, columns)
        self._update_many = update_rows_sql(table, columns)

    def save(self, connection: asyncpg.Connection, key: Any, values: Sequence[object]) -> None:
        """Stage the row `key`'s `values` (in the columns' order); needs a `transaction`."""
        stage(connection, self._write, (key, values))

    def _write(self, rows: list[tuple[Any, Sequence[object]]]) -> Statement:
        latest = sorted(dict(rows).items())
        if len(latest) == 1:
            [(key, values)] = latest
            return self._update_one, [key, *values]
        keys = [key for key, _ in latest]
        columns = zip(*(values for _, values in latest), strict=True)
        return self._update_many, [keys, *(list(c) for c in columns)]


def _arrays(table: Table, columns: Sequence[str]) -> str:
    """`$1::type[], $2::type[], ...` for the columns, typed from the metadata without a length
    (`VARCHAR`, not `VARCHAR(64)`): casting to a length would cut an over-long value silently,
    where the column refuses it."""
    types = [_TYPMOD.sub("", table.c[name].type.compile(dialect=_POSTGRESQL)) for name in columns]
    return ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(types, start=1))


def entity_of(model: Callable[..., E], row: Mapping[str, Any], /, **enums: type[Enum]) -> E:
    """`model(**row)`, each column named in `enums` read back as its enumeration: the inverse
    of `values_of`."""
    values = dict(row)
    for name, enum in enums.items():
        values[name] = enum(values[name])
    return model(**values)


def values_of(entity: object, columns: Sequence[str]) -> list[object]:
    """The entity's attributes named `columns`, in order; an enumeration as the value stored."""
    values = [getattr(entity, name) for name in columns]
    return [value.value if isinstance(value, Enum) else value for value in values]
