"""`python -m skileez_<service> migrate|serve|prune`, the same for every service."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from aiohttp import web

from skileez_web.database import create_engine, migrate
from skileez_web.retention import Pruning, prune
from skileez_web.settings import DatabaseSettings, ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def run_service(
    package: str,
    settings_type: type[S],
    create_app: Callable[[S], web.Application],
    argv: list[str] | None = None,
    *,
    retention: Callable[[S], Sequence[Pruning]],
) -> None:
    """`migrate` the database, `serve` the app, or `prune` once what `retention` names (the
    job every replica also runs on an interval) and print how many rows of each table went."""
    parser = argparse.ArgumentParser(prog=f"python -m {package}")
    parser.add_argument("command", choices=["migrate", "serve", "prune"])
    args = parser.parse_args(argv)
    if args.command == "migrate":
        # DATABASE_URL alone: a migration Job is given no other secret (deploy/k8s).
        database = DatabaseSettings()
        _log_as(package, database.log_level)
        migrate(package, database.database_url)
        return
    settings = settings_type()  # every field comes from the environment
    _log_as(package, settings.log_level)
    if args.command == "prune":
        pruned = asyncio.run(_prune_once(settings, retention(settings)))
        for table, count in pruned.items():
            print(f"{table}: {count} pruned")
        return
    import uvloop

    uvloop.install()
    app = create_app(settings)
    app.on_startup.append(_freeze_what_start_up_made)  # after the cleanup contexts started
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_timeout,
        access_log=None,
        print=None,
    )


async def _prune_once(settings: ServiceSettings, prunings: Sequence[Pruning]) -> dict[str, int]:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        return await prune(engine, prunings, batch_size=settings.retention_batch_size)
    finally:
        await engine.dispose()


def _log_as(package: str, level: str) -> None:
    logging.basicConfig(
        level=level, format=f"%(asctime)s {package} %(levelname)s %(name)s: %(message)s"
    )


async def _freeze_what_start_up_made(_app: web.Application) -> None:
    """Move every object alive after start-up (modules, table metadata, schemas, pools) out of
    the collector's reach, so a full collection under load traverses only what the load made:
    shorter pauses of the event loop (bench/README.md, "Before / after", pass 4)."""
    gc.collect()
    gc.freeze()
