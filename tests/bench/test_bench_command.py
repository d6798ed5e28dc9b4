"""The bench command works end to end (tiny N, short phases); it asserts no timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_bench_runs_with_a_tiny_load_and_writes_its_table_and_json(
    postgres_server_url: str, amqp_url: str, tmp_path: Path
) -> None:
    output = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--contracts",
            "20",
            "--postgres-url",
            postgres_server_url,
            "--amqp-url",
            amqp_url,
            "--ceiling-seconds",
            "0.3",
            "--ceiling-requests",
            "300",
            "--ceiling-messages",
            "300",
            "--ceiling-flows",
            "100",
            "--read-requests",
            "100",
            "--settle-seconds",
            "0.2",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "webhook ingestion" in done.stdout
    results = json.loads(output.read_text())
    assert results["contracts"] == 20
    phases = results["phases"]
    assert phases["saturation"]["webhook_ok"] == phases["saturation"]["contracts"]
    assert phases["payments_alone"]["webhook_ok"] == phases["payments_alone"]["contracts"]
    webhook_phases = ("saturation", "payments_alone", "rate_100", "rate_500")
    assert sum(phases[p]["activated"] for p in webhook_phases) == 20
    assert phases["read"]["ok"] == phases["read"]["requests"]
    assert set(results["memory"]) == {"contracts", "payments", "scheduling"}
    assert results["ceilings"]["bare_pipeline_flows_per_s"] > 0
    assert results["ceilings"]["bare_pipeline_batched_flows_per_s"] > 0
