"""`python -m skileez_<service> migrate|serve`, the same for every service."""

from __future__ import annotations

import argparse
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
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_timeout,
        access_log=None,
        print=None,
    )
