"""`python -m skileez_<service> migrate|serve|prune`, the same for every service."""

from __future__ import annotations

import argparse
import asyncio
import gc
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from aiohttp import web

from skileez_web.database import create_engine, migrate
from skileez_web.logs import log_json_lines
from skileez_web.retention import Pruning, prune
from skileez_web.settings import DatabaseSettings, RetentionSettings, ServiceSettings
from skileez_web.tracing import start_tracing

S = TypeVar("S", bound=ServiceSettings)
R = TypeVar("R", bound=RetentionSettings)


def run_service(
    package: str,
    settings_type: type[S],
    create_app: Callable[[S], web.Application],
    argv: list[str] | None = None,
    *,
    retention: Callable[[R], Sequence[Pruning]],
    retention_settings: type[R],
    commands: Mapping[str, Callable[[], None]] | None = None,
) -> None:
    """`migrate` the database, `serve` the app, or `prune` once what `retention` names (the
    job every replica also runs on an interval) and print how many rows of each table went.
    `settings_type` must be a `retention_settings`, which is what `prune` alone reads.
    `commands`: the service's own other commands by name, each reading its own settings."""
    more = dict(commands or {})
    parser = argparse.ArgumentParser(prog=f"python -m {package}")
    parser.add_argument("command", choices=["migrate", "serve", "prune", *more])
    args = parser.parse_args(argv)
    if args.command in more:
        more[args.command]()
        return
    if args.command == "migrate":
        # DATABASE_URL alone: a migration Job is given no other secret (deploy/k8s).
        database = DatabaseSettings()
        log_json_lines(package.removeprefix("skileez_"), database.log_level)
        migrate(package, database.database_url)
        return
    if args.command == "prune":
        # The database URL and retention ages alone: no JWT, broker or Stripe secret.
        kept = retention_settings()
        log_json_lines(package.removeprefix("skileez_"), kept.log_level)
        pruned = asyncio.run(_prune_once(kept, retention(kept)))
        for table, count in pruned.items():
            print(f"{table}: {count} pruned")
        return
    settings = settings_type()  # every field comes from the environment
    log_json_lines(package.removeprefix("skileez_"), settings.log_level)
    import uvloop

    uvloop.install()
    start_tracing(package.removeprefix("skileez_"), settings.otel_exporter_otlp_endpoint)
    app = create_app(settings)
    app.on_startup.append(_freeze_what_start_up_made)  # after the cleanup contexts started
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_timeout,
        access_log=None,  # ACCESS_LOG: skileez_web.logs, inside each request's trace
        print=None,
    )


async def _prune_once(settings: RetentionSettings, prunings: Sequence[Pruning]) -> dict[str, int]:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        return await prune(engine, prunings, batch_size=settings.retention_batch_size)
    finally:
        await engine.dispose()


async def _freeze_what_start_up_made(_app: web.Application) -> None:
    """Move every object alive after start-up (modules, table metadata, schemas, pools) out of
    the collector's reach, so a full collection under load traverses only what the load made:
    shorter pauses of the event loop (bench/README.md, "Before / after", pass 4)."""
    gc.collect()
    gc.freeze()
