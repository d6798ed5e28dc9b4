"""`python -m skileez_<service> migrate|serve`, the same for every service."""

from __future__ import annotations

import argparse
import gc
import logging
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from skileez_web.database import migrate
from skileez_web.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def run_service(
    package: str,
    settings_type: type[S],
    create_app: Callable[[S], web.Application],
    argv: list[str] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {package}")
    parser.add_argument("command", choices=["migrate", "serve"])
    args = parser.parse_args(argv)
    settings = settings_type()  # every field comes from the environment
    logging.basicConfig(
        level=settings.log_level,
        format=f"%(asctime)s {package} %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "migrate":
        migrate(package, settings.database_url)
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


async def _freeze_what_start_up_made(_app: web.Application) -> None:
    """Move every object alive after start-up (modules, table metadata, schemas, pools) out of
    the collector's reach, so a full collection under load traverses only what the load made:
    shorter pauses of the event loop (bench/README.md, "Before / after", pass 4)."""
    gc.collect()
    gc.freeze()
