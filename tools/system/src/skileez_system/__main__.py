"""`python -m skileez_system up`: the whole system on this machine, without Docker.

Migrates and starts the three services and the Stripe emulator against a local PostgreSQL
and RabbitMQ, with their logs interleaved on the terminal; Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from skileez_system.system import System, SystemConfig

LOCAL_PORTS = {"contracts": [8001], "payments": [8002], "scheduling": [8003], "emulator": [12111]}


def local_config() -> SystemConfig:
    env = os.environ
    return SystemConfig(
        postgres_url=env.get("POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        amqp_url=env.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        namespace=env.get("EVENTS_NAMESPACE", ""),
        jwt_secret=env.get("JWT_SECRET", "local-only-jwt-secret-change-me-0123456789"),
        webhook_secret=env.get("STRIPE_WEBHOOK_SECRET", "whsec_local_only_change_me"),
        workdir=Path(env.get("SKILEEZ_LOG_DIR", ".local/logs")),
        ports=LOCAL_PORTS,
    )


async def up(config: SystemConfig) -> None:
    system = System(config, echo=sys.stdout)
    await system.create_databases()
    await system.migrate()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await system.start()
        urls = ", ".join(f"{name} {system.url(name)}" for name in LOCAL_PORTS)
        print(f"\nSkileez is up: {urls}.", flush=True)
        print("Ctrl-C stops.\n")
        await stop.wait()
    finally:
        print("\nstopping...", flush=True)
        await system.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m skileez_system")
    parser.add_argument("command", choices=["up"])
    parser.parse_args()
    config = local_config()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(up(config))


if __name__ == "__main__":
    main()
