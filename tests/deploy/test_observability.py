"""The observability artefacts of deploy/: the pipeline's alert rules fire in `promtool test
rules` where they should and stay quiet where they should not, Prometheus's configuration loads
them, the Grafana dashboard parses and asks only for metrics the services serve, and the compose
profile `observability` mounts files that exist. (No container runs here.)"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from .conftest import DEPLOY, ROOT

RULES = DEPLOY / "prometheus" / "pipeline-alerts.yml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "payment-pipeline.json"
PROFILE = ("otel-collector", "jaeger", "prometheus", "grafana")
PROMQL_WORDS = {
    "by",
    "sum",
    "max",
    "min",
    "rate",
    "increase",
    "histogram_quantile",
    "le",
    "without",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("promtool")
    assert executable, "promtool is not installed (Debian's `prometheus` package; .ci/run)"
    return subprocess.run(
        [executable, *args], capture_output=True, text=True, timeout=60, check=False
    )


def served_metrics() -> set[str]:
    """Every sample name the three services' /metrics can carry (their metrics registered)."""
    for service in ("contracts", "payments", "scheduling"):
        importlib.import_module(f"skileez_{service}.entrypoints.app")
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_count", "_sum"),
        "gauge": ("",),
    }
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in suffixes.get(family.type, ("",))
    }


def metrics_in(expr: str) -> set[str]:
    return set(re.findall(r"\b(skileez_[a-z_]+)\b", expr))


def rules() -> dict[str, dict[str, Any]]:
    [group] = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for rule in group["rules"]}


def test_promtool_checks_the_rules_and_the_configuration_that_loads_them() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout
    config = promtool("check", "config", str(PROMETHEUS))
    assert config.returncode == 0, config.stdout + config.stderr


def test_every_rule_and_panel_asks_for_metrics_the_services_serve() -> None:
    served = served_metrics()
    for alert, rule in rules().items():
        names = metrics_in(rule["expr"])
        assert names, alert
        assert names <= served, (alert, names - served)
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metrics_in(target["expr"])
            assert names, (panel["title"], target["expr"])
            assert names <= served, (panel["title"], names - served)


def test_the_dashboard_is_provisioned_from_its_folder() -> None:
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "skileez.yml").read_text()
    )
    [files] = provider["providers"]
    assert files["options"]["path"] == "/var/lib/grafana/dashboards"
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    sources = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "skileez.yml").read_text()
    )
    uids = {source["uid"] for source in sources["datasources"]}
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] in uids


def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inside = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{name}{{{inside}}}", "values": values}


CASES: dict[str, tuple[list[dict[str, str]], str, list[dict[str, str]]]] = {
    # alert: (input series over 20 minutes at 1m, the time to evaluate, the labels that fire)
    "SkileezOutboxBehind": (
        [
            series("skileez_outbox_oldest_unsent_seconds", {"job": "payments"}, "0+60x20"),
            series("skileez_outbox_oldest_unsent_seconds", {"job": "contracts"}, "30x20"),
        ],
        "10m",
        [{"job": "payments", "severity": "critical"}],
    ),
    "SkileezDeadLetters": (
        [
            series(
                "skileez_dead_letters", {"consumer": "contracts", "queue": "q1.dlq"}, "0 0 1x18"
            ),
            series("skileez_dead_letters", {"consumer": "contracts", "queue": "q2.dlq"}, "0x20"),
        ],
        "10m",
        [{"consumer": "contracts", "queue": "q1.dlq", "severity": "warning"}],
    ),
    "SkileezConsumerNotReady": (
        [
            series("skileez_consumer_ready", {"consumer": "scheduling", "instance": "a"}, "0x20"),
            series("skileez_consumer_ready", {"consumer": "scheduling", "instance": "b"}, "1x20"),
            series("skileez_consumer_ready", {"consumer": "payments", "instance": "c"}, "1 0 1x18"),
        ],
        "10m",
        [{"consumer": "scheduling", "instance": "a", "severity": "critical"}],
    ),
    "SkileezConsumerLagging": (
        [
            series(
                "skileez_queue_messages_ready", {"consumer": "payments", "queue": "q"}, "5000x20"
            ),
            series(
                "skileez_queue_messages_ready", {"consumer": "payments", "queue": "r"}, "900x20"
            ),
        ],
        "15m",
        [{"consumer": "payments", "queue": "q", "severity": "warning"}],
    ),
    "SkileezHeldPaymentsWaiting": (
        [series("skileez_payments_oldest_held_seconds", {"instance": "a"}, "14000+60x20")],
        "15m",
        [{"severity": "warning"}],
    ),
    "SkileezReconciliationBehind": (
        [
            series("skileez_reconciliation_lag_seconds", {"instance": "a"}, "800+60x20"),
            series("skileez_reconciliation_lag_seconds", {"instance": "b"}, "900+60x20"),
        ],
        "15m",
        [{"severity": "warning"}],
    ),
    "SkileezWebhookSignatureFailures": (
        [
            series("skileez_stripe_webhooks_total", {"outcome": "bad_signature"}, "0+60x20"),
            series("skileez_stripe_webhooks_total", {"outcome": "applied"}, "0+6000x20"),
        ],
        "15m",
        [{"severity": "warning"}],
    ),
    "SkileezStripeErrors": (
        [
            series(
                "skileez_stripe_call_errors_total",
                {"operation": "checkout.sessions.create", "kind": "unavailable"},
                "0+30x20",
            ),
            series(
                "skileez_stripe_call_seconds_count",
                {"operation": "checkout.sessions.create"},
                "0+100x20",
            ),
        ],
        "18m",
        [{"severity": "warning"}],
    ),
    "SkileezMetricsNotSampled": (
        [
            series(
                "skileez_metrics_sample_failed", {"job": "payments", "sample": "queues"}, "1x20"
            ),
            series(
                "skileez_metrics_sample_failed", {"job": "payments", "sample": "outbox"}, "0x20"
            ),
        ],
        "15m",
        [{"job": "payments", "sample": "queues", "severity": "warning"}],
    ),
}
QUIET: dict[str, list[dict[str, str]]] = {
    # the same alerts under their thresholds (or a metric that recovers): nothing fires
    "SkileezOutboxBehind": [
        series("skileez_outbox_oldest_unsent_seconds", {"job": "payments"}, "59x20")
    ],
    "SkileezDeadLetters": [
        series("skileez_dead_letters", {"consumer": "contracts", "queue": "q1.dlq"}, "0x20")
    ],
    "SkileezConsumerNotReady": [
        series("skileez_consumer_ready", {"consumer": "payments", "instance": "c"}, "0 0 0 1x17")
    ],
    "SkileezConsumerLagging": [
        series("skileez_queue_messages_ready", {"consumer": "payments", "queue": "q"}, "1000x20")
    ],
    "SkileezHeldPaymentsWaiting": [
        series("skileez_payments_oldest_held_seconds", {"instance": "a"}, "14400x20")
    ],
    "SkileezReconciliationBehind": [
        series("skileez_reconciliation_lag_seconds", {"instance": "a"}, "890x20"),
        series("skileez_reconciliation_lag_seconds", {"instance": "b"}, "5000x20"),
    ],
    "SkileezWebhookSignatureFailures": [
        series("skileez_stripe_webhooks_total", {"outcome": "bad_signature"}, "0+5x20")
    ],
    "SkileezStripeErrors": [
        series(
            "skileez_stripe_call_errors_total",
            {"operation": "refunds.create", "kind": "refused"},
            "0+90x20",
        ),
        series("skileez_stripe_call_seconds_count", {"operation": "refunds.create"}, "0+100x20"),
    ],
    "SkileezMetricsNotSampled": [
        series("skileez_metrics_sample_failed", {"job": "payments", "sample": "queues"}, "1x5 0x15")
    ],
}


def test_every_pipeline_alert_has_its_cases() -> None:
    assert set(CASES) == set(rules()) == set(QUIET)


@pytest.mark.parametrize("alert", sorted(CASES))
def test_promtool_fires_each_alert_where_it_should_and_not_where_it_should_not(
    alert: str, tmp_path: Path
) -> None:
    stripped = yaml.safe_load(RULES.read_text())
    for rule in stripped["groups"][0]["rules"]:
        del rule["annotations"]  # their text is not under test
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump(stripped))
    firing, at, labels = CASES[alert]
    tests = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": firing,
                "alert_rule_test": [
                    {"eval_time": "0m", "alertname": alert, "exp_alerts": []},
                    {
                        "eval_time": at,
                        "alertname": alert,
                        "exp_alerts": [{"exp_labels": label} for label in labels],
                    },
                ],
            },
            {
                "interval": "1m",
                "input_series": QUIET[alert],
                "alert_rule_test": [
                    {"eval_time": "19m", "alertname": alert, "exp_alerts": []},
                ],
            },
        ],
    }
    test_file = tmp_path / "tests.yml"
    test_file.write_text(yaml.safe_dump(tests))
    result = promtool("test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_profile_runs_collector_jaeger_prometheus_grafana_on_existing_files() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in PROFILE:
        assert services[name]["profiles"] == ["observability"], name
        assert ":" in services[name]["image"]
        assert "latest" not in services[name]["image"]
        for volume in services[name].get("volumes", []):
            source = volume.split(":")[0]
            assert (ROOT / source).exists(), (name, source)
    for name, service in services.items():
        if name not in PROFILE:
            assert service.get("profiles") != ["observability"], name
    # The collector's pipeline ends in Jaeger; the services send to the collector when asked.
    collector = yaml.safe_load((DEPLOY / "otel-collector" / "config.yaml").read_text())
    [exporter] = collector["service"]["pipelines"]["traces"]["exporters"]
    assert collector["exporters"][exporter]["endpoint"].startswith("jaeger:")
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in compose["x-service-env"]
    scraped = yaml.safe_load(PROMETHEUS.read_text())
    jobs = {job["job_name"]: job for job in scraped["scrape_configs"]}
    for service, port in {"contracts": 8001, "payments": 8002, "scheduling": 8003}.items():
        assert jobs[service]["static_configs"][0]["targets"] == [f"{service}:{port}"]
    assert sorted(scraped["rule_files"]) == ["alerts.yml", "pipeline-alerts.yml"]
