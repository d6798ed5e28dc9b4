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

from skileez_db.connections import server_dsn


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    """A fixed pool of `pool_size` connections; past that, a checkout waits for a free one.
    No overflow: overflow connections are closed as soon as they are returned, so a load just
    above the pool size opened and closed a server connection (a backend process, with every
    prepared statement parsed again) for nearly every transaction.

    No `pool_pre_ping`: it cost a round trip per checkout (per transaction). A connection
    the server dropped fails its first statement; `skileez_db.connections` invalidates
    it, the transaction fails (a webhook answers 5xx and Stripe retries; a consumer holds the
    delivery and retries it once the database answers), and the next checkout connects
    afresh.

    Every statement is planned for its own parameters (`plan_cache_mode`), never run on a
    cached generic plan. From a prepared statement's sixth run on, PostgreSQL may switch to a
    generic plan (it does when that plan looks no dearer than the custom ones, as on nearly
    empty tables) and keeps it until the tables are analysed again: one made while the tables
    were nearly empty scanned them sequentially once they had grown (payments' lock statement:
    0.8 ms against 0.2 ms for one key at 5,000 rows, 3-4 ms for a group's keys in the bench;
    bench/README.md). A generic plan also cannot know how many keys an `= ANY($1)` array holds.
    (The readiness probe's own connection and Alembic's engine do not need it.)"""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
    )


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
        engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "")
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
        await engine.dispose()

    asyncio.run(main())
