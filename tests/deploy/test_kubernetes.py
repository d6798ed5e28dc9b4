"""The Kubernetes manifests parse, reference real files, and line up with the image and the
services: probes, resource requests, migration Jobs, Secret keys, selectors. Rendered with
`kubectl kustomize` where kubectl is installed (it needs no cluster); no cluster runs here."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
SERVICES = {"contracts": 8001, "payments": 8002, "scheduling": 8003}


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization_files(directory: Path) -> list[Path]:
    """Every resource a kustomization names, recursively, checked to exist."""
    kustomization = documents(directory / "kustomization.yaml")[0]
    files = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        assert path.exists(), f"{directory}/kustomization.yaml names missing {entry}"
        files += kustomization_files(path) if path.is_dir() else [path]
    for patch in kustomization.get("patches", []):
        assert (directory / patch["path"]).is_file(), patch
    return files


def base_objects() -> list[dict[str, Any]]:
    return [doc for path in kustomization_files(BASE) for doc in documents(path)]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in base_objects() if obj["kind"] == kind}


def env_names(container: dict[str, Any]) -> set[str]:
    return {entry["name"] for entry in container.get("env", [])}


def test_every_kustomization_parses_and_names_real_files() -> None:
    for directory in (BASE, K8S / "overlays" / "production", K8S / "rabbitmq"):
        assert kustomization_files(directory), directory
    for path in K8S.rglob("*.yaml"):
        assert documents(path), path


@pytest.mark.parametrize("service", SERVICES)
def test_each_deployment_is_probed_and_requests_resources(service: str) -> None:
    deployment = by_kind("Deployment")[service]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": SERVICES[service]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert deployment["spec"]["replicas"] >= 2
    # Longer than the service's own shutdown timeout plus the preStop pause.
    assert pod["terminationGracePeriodSeconds"] > 15 + 5
    assert [e["value"] for e in container["env"] if e["name"] == "PORT"] == [str(SERVICES[service])]


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_runs_the_same_entry_points_as_compose(compose, service: str) -> None:  # type: ignore[no-untyped-def]
    [serve] = by_kind("Deployment")[service]["spec"]["template"]["spec"]["containers"]
    [migrate] = by_kind("Job")[f"{service}-migrate"]["spec"]["template"]["spec"]["containers"]
    # `args`, not `command`: the image's ENTRYPOINT (tini) stays PID 1.
    assert "command" not in serve
    assert "command" not in migrate
    assert serve["args"] == compose.service(service)["command"]
    assert migrate["args"] == compose.service(f"{service}-migrate")["command"]
    assert migrate["args"][-1] == "migrate"
    assert importlib.util.find_spec(serve["args"][2]) is not None
    assert serve["image"] == migrate["image"] == "skileez"
    # The Job reads the same configuration as the Deployment (settings load in full).
    assert env_names(migrate) == env_names(serve)
    assert migrate["envFrom"] == serve["envFrom"]
    job = by_kind("Job")[f"{service}-migrate"]["spec"]
    assert job["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")


def test_every_secret_and_config_reference_exists() -> None:
    template = documents(BASE / "secret.template.yaml")[0]
    assert template["metadata"]["name"] == "skileez-secrets"
    secret_keys = set(template["stringData"])
    config = by_kind("ConfigMap")["skileez-config"]["data"]
    used_keys = set()
    for kind in ("Deployment", "Job"):
        for obj in by_kind(kind).values():
            for container in obj["spec"]["template"]["spec"]["containers"]:
                for entry in container.get("env", []):
                    ref = entry.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        assert ref["name"] == "skileez-secrets"
                        used_keys.add(ref["key"])
                for source in container.get("envFrom", []):
                    assert source["configMapRef"]["name"] == "skileez-config"
    assert used_keys == secret_keys
    assert config["STRIPE_API_BASE"] == "https://api.stripe.com"
    assert (
        "secret.template.yaml"
        not in (BASE / "kustomization.yaml").read_text().split("resources:")[1]
    )


@pytest.mark.parametrize("service", SERVICES)
def test_services_and_disruption_budgets_select_the_deployments_pods(service: str) -> None:
    pod_labels = by_kind("Deployment")[service]["spec"]["template"]["metadata"]["labels"]
    k8s_service = by_kind("Service")[service]["spec"]
    assert k8s_service["selector"].items() <= pod_labels.items()
    assert [p["targetPort"] for p in k8s_service["ports"]] == ["http"]
    budget = by_kind("PodDisruptionBudget")[service]["spec"]
    assert budget["selector"]["matchLabels"].items() <= pod_labels.items()
    assert budget["minAvailable"] == 1
    job_labels = by_kind("Job")[f"{service}-migrate"]["spec"]["template"]["metadata"]["labels"]
    assert not k8s_service["selector"].items() <= job_labels.items()


def test_the_rabbitmq_cluster_runs_three_nodes_with_quorum_queues_and_the_definitions() -> None:
    [cluster] = documents(K8S / "rabbitmq" / "rabbitmqcluster.yaml")
    assert cluster["kind"] == "RabbitmqCluster"
    assert cluster["spec"]["replicas"] == 3
    config = cluster["spec"]["rabbitmq"]["additionalConfig"]
    assert "default_queue_type = quorum" in config
    assert "definitions.local.path = /etc/skileez/definitions.json" in config


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("directory", ["base", "overlays/production", "rabbitmq"])
def test_kubectl_kustomize_renders(directory: str) -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S / directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    kinds = sorted(doc["kind"] for doc in rendered)
    if directory == "overlays/production":
        assert all(doc["metadata"].get("namespace") == "skileez" for doc in rendered)
        images = {
            c["image"]
            for doc in rendered
            if doc["kind"] in ("Deployment", "Job")
            for c in doc["spec"]["template"]["spec"]["containers"]
        }
        assert len(images) == 1
        assert next(iter(images)).endswith(":0.1.0")
    if directory != "rabbitmq":
        assert kinds.count("Deployment") == kinds.count("Job") == 3
