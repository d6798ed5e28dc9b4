"""deploy/prometheus/alerts.yml warns at 80% of the queue limits the broker's policies set.

The thresholds are read against deploy/rabbitmq/definitions.json, the file is checked by
`promtool check rules`, and its expressions are run by `promtool test rules` on series of
RabbitMQ's own metric (`rabbitmq_queue_messages`, per queue) just under and at each threshold.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from skileez_events.schemas import event_type_of
from skileez_events.topology import SUBSCRIPTIONS

from .broker import NAMES, policy_named
from .conftest import DEPLOY

ALERTS = DEPLOY / "prometheus" / "alerts.yml"
POLICY_OF_ALERT = {
    "SkileezDeadLetterQueueFilling": "dead-letters-bounded",
    "SkileezUnroutedQueueFilling": "unrouted-bounded",
}
SHARE = 0.8
"""An alert fires at this share of its queue's limit."""


def rules() -> dict[str, dict[str, Any]]:
    [group] = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule for rule in group["rules"]}


def threshold(rule: dict[str, Any]) -> int:
    [value] = re.findall(r">= (\d+)$", rule["expr"].strip())
    return int(value)


def queue_regex(rule: dict[str, Any]) -> re.Pattern[str]:
    """The `queue=~"..."` matcher of the expression (PromQL anchors it at both ends)."""
    [literal] = re.findall(r'queue=~"((?:[^"\\]|\\.)*)"', rule["expr"])
    return re.compile(literal.replace("\\\\", "\\"))


def warning_level(alert: str) -> int:
    """80% of the limit its policy sets in the definitions."""
    return int(policy_named(POLICY_OF_ALERT[alert])["definition"]["max-length"] * SHARE)


def dead_letter_queues() -> list[str]:
    return [
        NAMES.dead_letter_queue(NAMES.queue(service, event_type_of(model)))
        for service, models in SUBSCRIPTIONS.items()
        for model in models
    ]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("promtool")
    assert executable, "promtool is not installed (Debian's `prometheus` package; .ci/run)"
    return subprocess.run(
        [executable, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_each_alert_fires_at_80_percent_of_its_policys_limit() -> None:
    found = rules()
    assert set(found) == set(POLICY_OF_ALERT)
    for alert, policy in POLICY_OF_ALERT.items():
        assert threshold(found[alert]) == warning_level(alert), alert
        limit = policy_named(policy)["definition"]["max-length"]
        assert str(limit) in found[alert]["annotations"]["summary"], alert


def test_each_alert_watches_exactly_the_queues_its_policy_bounds() -> None:
    dead_letters = queue_regex(rules()["SkileezDeadLetterQueueFilling"])
    unrouted = queue_regex(rules()["SkileezUnroutedQueueFilling"])
    for queue in dead_letter_queues():
        assert dead_letters.fullmatch(queue), queue
        assert not unrouted.fullmatch(queue), queue
        consumer_queue = queue.removesuffix(".dlq")
        assert not dead_letters.fullmatch(consumer_queue), consumer_queue
    assert unrouted.fullmatch(NAMES.unrouted_queue)
    assert not dead_letters.fullmatch(NAMES.unrouted_queue)


def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 2 rules found" in result.stdout, result.stdout


def test_promtool_runs_the_rules_just_under_and_at_each_threshold(tmp_path: Path) -> None:
    """No alert under a threshold, none while pending (`for: 5m`), one per queue at it."""
    # The expressions as written, without the annotations (their text is not under test).
    stripped = yaml.safe_load(ALERTS.read_text())
    for rule in stripped["groups"][0]["rules"]:
        del rule["annotations"]
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump(stripped))

    dead_letter_limit = warning_level("SkileezDeadLetterQueueFilling")
    unrouted_limit = warning_level("SkileezUnroutedQueueFilling")
    [full_dlq, quiet_dlq, *_] = dead_letter_queues()
    consumer_queue = full_dlq.removesuffix(".dlq")
    levels = {
        ("skileez", full_dlq): dead_letter_limit,
        ("skileez", quiet_dlq): dead_letter_limit - 1,
        ("skileez", consumer_queue): dead_letter_limit * 10,  # a consumer queue is not watched
        ("skileez", NAMES.unrouted_queue): unrouted_limit,
        ("staging", NAMES.unrouted_queue): unrouted_limit - 1,
    }
    series = [
        {
            "series": f'rabbitmq_queue_messages{{vhost="{vhost}",queue="{queue}"}}',
            "values": f"{level}x20",
        }
        for (vhost, queue), level in levels.items()
    ]

    def firing(queue: str) -> dict[str, Any]:
        return {"exp_labels": {"severity": "warning", "vhost": "skileez", "queue": queue}}

    tests = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": "3m", "alertname": alert, "exp_alerts": []}
                    for alert in POLICY_OF_ALERT
                ]
                + [
                    {
                        "eval_time": "10m",
                        "alertname": "SkileezDeadLetterQueueFilling",
                        "exp_alerts": [firing(full_dlq)],
                    },
                    {
                        "eval_time": "10m",
                        "alertname": "SkileezUnroutedQueueFilling",
                        "exp_alerts": [firing(NAMES.unrouted_queue)],
                    },
                ],
            }
        ],
    }
    test_file = tmp_path / "tests.yml"
    test_file.write_text(yaml.safe_dump(tests))
    result = promtool("test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr
