"""`python -m chaos --seed S --payments N [--broker-restarts]`: exits 1 on any violation."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from chaos.run import Options, execute


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--payments", type=int, default=150)
    parser.add_argument(
        "--broker-restarts",
        action="store_true",
        help="also stop and start the broker's app (rabbitmqctl): a shared broker's other "
        "users see it too, so never in CI",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    )
    parser.add_argument("--workdir", type=Path, default=Path("test-output/chaos"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    options = Options(
        seed=args.seed,
        payments=args.payments,
        postgres_url=args.postgres_url,
        amqp_url=args.amqp_url,
        workdir=args.workdir / f"seed-{args.seed}",
        broker_restarts=args.broker_restarts,
    )
    report = asyncio.run(execute(options, sys.stdout))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
