"""`python -m stripe_emulator`: serve the emulator (port 12111 unless told otherwise)."""

from __future__ import annotations

import logging

from aiohttp import web

from stripe_emulator.app import create_app
from stripe_emulator.settings import load_settings


def main() -> None:
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("stripe_emulator").info(
        "Stripe emulator on http://%s:%d (state in memory), %d webhook target(s): %s",
        settings.host,
        settings.port,
        len(settings.webhooks),
        ", ".join(target.url for target in settings.webhooks) or "none",
    )
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)


if __name__ == "__main__":
    main()
