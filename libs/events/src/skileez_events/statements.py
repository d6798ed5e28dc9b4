"""SQL for asyncpg built once from a table's column names, and a row's values in that order.

Only names from the services' table metadata are formatted into SQL, never a value: the
values travel as `$n` parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from sqlalchemy import Table


def insert_sql(table: Table, columns: Sequence[str]) -> str:
    """`INSERT INTO table (columns) VALUES ($1, ...)`."""
    placeholders = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})"


def insert_rows_sql(table: Table, columns: Sequence[str], types: Sequence[str]) -> str:
    """`INSERT INTO table (columns) SELECT * FROM unnest($1::type[], ...)`: many rows in one
    statement, each parameter an array of one column's values."""
    arrays = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(types, start=1))
    return f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"


def update_sql(table: Table, columns: Sequence[str]) -> str:
    """`UPDATE table SET column = $2, ... WHERE id = $1`."""
    assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(columns, start=2))
    return f"UPDATE {table.name} SET {assignments} WHERE id = $1"


def values_of(entity: object, columns: Sequence[str]) -> list[object]:
    """The entity's attributes named `columns`, in order; an enumeration as the value stored."""
    values = [getattr(entity, name) for name in columns]
    return [value.value if isinstance(value, Enum) else value for value in values]
