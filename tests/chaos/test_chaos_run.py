"""CI's chaos run: one seed, small enough for a few minutes here, must end with every invariant
kept (`python -m chaos` exits 0). The ten-seed record is in tools/chaos/README.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SEED = 7
PAYMENTS = 150

pytestmark = pytest.mark.timeout(420)

OUTPUT = Path(__file__).parents[2] / "test-output" / "chaos"


def test_one_seeded_chaos_run_keeps_every_invariant(
    postgres_server_url: str, amqp_url: str
) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "chaos",
            f"--seed={SEED}",
            f"--payments={PAYMENTS}",
            f"--postgres-url={postgres_server_url}",
            f"--amqp-url={amqp_url}",
            f"--workdir={OUTPUT}",
        ],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr[-5000:]
    assert "violations: 0" in run.stdout, run.stdout
