"""The bench's figures as a table (stdout) and a JSON document (bench/results/)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _fmt(value: Any, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    return f"{value:,.0f} {unit}".strip()


def table(results: dict[str, Any]) -> str:
    """Every figure beside its ceiling and the ratio."""
    lines = [
        f"{'figure':<46} {'ours':>14} {'ceiling':>14} {'ratio':>7}  ceiling is",
        "-" * 120,
    ]
    for row in results["table"]:
        ceiling = row.get("ceiling")
        ratio = (
            f"{100 * row['value'] / ceiling:.0f}%"
            if ceiling and row["value"] is not None and not math.isnan(row["value"])
            else ""
        )
        lines.append(
            f"{row['figure']:<46} {_fmt(row['value'], row['unit']):>14} "
            f"{_fmt(ceiling, row['unit']) if ceiling else '':>14} {ratio:>7}  "
            f"{row.get('ceiling_is', '')}"
        )
    lines.append("")
    lines.append(f"{'memory (RSS)':<16} {'at rest':>10} {'peak load':>10} {'after':>10}  returned")
    for name, memory in results["memory"].items():
        lines.append(
            f"{name:<16} {_fmt(memory['rest'], 'MiB'):>10} {_fmt(memory['peak'], 'MiB'):>10} "
            f"{_fmt(memory['after'], 'MiB'):>10}  {'yes' if memory['returned'] else 'no'}"
        )
    lines.append("")
    lines.append("load generator and service CPU (CPU-seconds per wall second; 1.0 = one core):")
    for phase, cpu in results["cpu"].items():
        parts = ", ".join(f"{name} {share:.2f}" for name, share in cpu.items())
        lines.append(f"  {phase:<28} {parts}")
    lines.append("")
    lines.append("machine: " + ", ".join(f"{k} {v}" for k, v in results["machine"].items()))
    return "\n".join(lines)


def write(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
