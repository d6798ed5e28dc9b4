"""`python -m skileez_system up|demo|token` (`--help` describes each).

`up`: the whole system on this machine, without Docker. Migrates and starts the four
services and the Stripe emulator against a local PostgreSQL and RabbitMQ, with their logs
interleaved on the terminal; Ctrl-C stops everything cleanly.

`demo`: against a running system, a demo coach, student and admin, a proposal, a pending
contract, and the sign-in links to click through the flow in a browser.

`token`: a signed access token for curl (`skileez_system.access_token`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from skileez_system.access_token import add_token_command, print_token
from skileez_system.demo import DemoConfig, DemoError, print_result, run_demo
from skileez_system.local_secret import jwt_secret
from skileez_system.servers import check_servers
from skileez_system.system import System, SystemConfig

LOCAL_PORTS = {
    "contracts": [8001],
    "payments": [8002],
    "scheduling": [8003],
    "backoffice": [8004],
    "emulator": [12111],
}


def local_config() -> SystemConfig:
    env = os.environ
    return SystemConfig(
        postgres_url=env.get("POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        amqp_url=env.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        namespace=env.get("EVENTS_NAMESPACE", ""),
        jwt_secret=jwt_secret(env),
        webhook_secret=env.get("STRIPE_WEBHOOK_SECRET", "whsec_local_only_change_me"),
        workdir=Path(env.get("SKILEEZ_LOG_DIR", ".local/logs")),
        ports=LOCAL_PORTS,
    )


async def up(config: SystemConfig) -> None:
    await check_servers(config.postgres_url, config.amqp_url)
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
        print("Logs also in " + str(config.workdir) + "/. Run the demo in another terminal:")
        print("  uv run python -m skileez_system demo")
        print("Ctrl-C stops.\n", flush=True)
        await stop.wait()
    finally:
        print("\nstopping (SIGTERM to each process, graceful shutdown)...", flush=True)
        await system.stop()
        print("stopped.", flush=True)


def demo() -> None:
    config = DemoConfig.from_environment(os.environ, jwt_secret(os.environ))
    try:
        result = asyncio.run(run_demo(config))
    except DemoError as error:
        raise SystemExit(f"demo: {error}") from None
    print_result(result)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m skileez_system",
        description="The whole Skileez system on this machine, without Docker.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    commands.add_parser(
        "up",
        help="migrate and start the four services and the Stripe emulator against this "
        "machine's PostgreSQL and RabbitMQ (POSTGRES_URL, AMQP_URL), logs interleaved; "
        "Ctrl-C stops them cleanly",
    )
    commands.add_parser(
        "demo",
        help="against a running system: a demo coach, student and admin, a pending contract, "
        "and sign-in links to click through the flow in a browser",
    )
    add_token_command(commands)
    args = parser.parse_args()
    if args.command == "demo":
        demo()
        return
    if args.command == "token":
        print_token(args, os.environ, jwt_secret(os.environ))
        return
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(up(local_config()))


if __name__ == "__main__":
    main()
