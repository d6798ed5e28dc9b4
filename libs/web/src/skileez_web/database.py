"""The service's engine, and Alembic migrations run from the package that owns them."""

from __future__ import annotations

import asyncio
from importlib.resources import files

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skileez_db.connections import asyncpg_dsn, server_dsn

CONNECT_TIMEOUT = 10.0
"""Seconds for TCP, TLS and PostgreSQL's startup together: a server that accepts connections
and never answers (a black hole) fails the checkout instead of hanging it."""

STATEMENT_TIMEOUT = 30.0
"""Seconds a statement of a service may wait for its answer: a connection whose server stops
answering fails (and is invalidated) instead of holding its request forever."""


def create_engine(
    url: str, pool_size: int = 10, statement_timeout: float | None = STATEMENT_TIMEOUT
) -> AsyncEngine:
    """A fixed pool of `pool_size` connections (past that, a checkout waits for a free one),
    without pre-ping, every statement planned for its own parameters, connecting and answering
    within bounded times (`statement_timeout` None for migrations, which may run long).

    No overflow: an overflow connection is closed as soon as it is returned, so a load just
    above the pool size opened a backend, and parsed every prepared statement again, for
    nearly every transaction. No `pool_pre_ping`: it cost a round trip per transaction; a
    connection the server dropped fails its first statement, `skileez_db.connections`
    invalidates it and the next checkout connects afresh. Custom plans
    (`plan_cache_mode`): PostgreSQL keeps a generic plan made on nearly empty tables, which
    scans them sequentially once they have grown, and which cannot know how many keys an
    `= ANY($1)` array holds. Each measured in bench/README.md, "Before / after".

    asyncpg opens each connection from the URL as a DSN (`asyncpg_dsn`), so `?sslmode=...`
    and the other libpq TLS parameters apply: SQLAlchemy would pass them to
    `asyncpg.connect` as keywords it refuses."""
    dsn = asyncpg_dsn(url)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(
            dsn,
            timeout=CONNECT_TIMEOUT,
            command_timeout=statement_timeout,
            server_settings={"plan_cache_mode": "force_custom_plan"},
        )

    return create_async_engine(url, pool_size=pool_size, max_overflow=0, async_creator=connect)


async def database_is_reachable(engine: AsyncEngine) -> bool:
    """Readiness: a connection of its own, not one from the pool, so that a pool busy with
    work (checkouts wait, there is no overflow) never reads as a database that is gone."""
    connection = await asyncpg.connect(server_dsn(engine), timeout=2)
    try:
        await connection.fetchval("SELECT 1", timeout=2)
    finally:
        try:
            await connection.close(timeout=2)
        except Exception:
            connection.terminate()
    return True


def alembic_config(package: str, database_url: str) -> Config:
    """Alembic configured for `package`'s `migrations/` folder and the given database."""
    config = Config()
    config.set_main_option("script_location", str(files(package) / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(package: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(package, database_url), revision)


def downgrade(package: str, database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(package, database_url), revision)


def run_migrations_online(config: Config, target_metadata: MetaData) -> None:
    """The body of every service's `migrations/env.py`: run Alembic over the async engine."""

    def run(connection: Connection) -> None:
        from alembic import context

        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_engine(
            config.get_main_option("sqlalchemy.url") or "", pool_size=1, statement_timeout=None
        )
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
        await engine.dispose()

    asyncio.run(main())
