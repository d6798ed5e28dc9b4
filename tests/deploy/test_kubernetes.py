"""The Kubernetes manifests parse, reference real files, and line up with the image and the
services: probes, resource requests, migration Jobs (their database URL alone), Secret keys,
selectors, the NetworkPolicies (each pod reaches only what it needs) and the Ingress (public
routes only). Rendered with `kubectl kustomize` where kubectl is installed (it needs no
cluster); no cluster runs here."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import ipaddress
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from yarl import URL

from skileez_db.connections import asyncpg_dsn
from skileez_web.settings import DatabaseSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
SERVICES = {"contracts": 8001, "payments": 8002, "scheduling": 8003, "backoffice": 8004}
FLOW = ("contracts", "payments", "scheduling")
"""The services the backoffice calls for an operator."""


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
        assert kinds.count("Deployment") == kinds.count("Job") == len(SERVICES)


# -- the migration Jobs: their database URL alone ------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_a_migration_container_is_given_its_database_url_alone(service: str) -> None:
    """No JWT secret, Stripe key or AMQP credentials where only the schema changes."""
    [serve] = by_kind("Deployment")[service]["spec"]["template"]["spec"]["containers"]
    [migrate] = by_kind("Job")[f"{service}-migrate"]["spec"]["template"]["spec"]["containers"]
    assert "envFrom" not in migrate
    assert env_names(migrate) == {"DATABASE_URL"}
    assert migrate["env"] == [entry for entry in serve["env"] if entry["name"] == "DATABASE_URL"]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("service", SERVICES)
async def test_migrate_runs_with_its_database_url_alone(
    service: str, create_database: Callable[[str], Awaitable[str]]
) -> None:
    """What the Job's container holds is enough, its URL's `sslmode` included."""
    url = await create_database(f"{service}_migrate") + "?sslmode=disable"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *["-m", f"skileez_{service}", "migrate"],
        env={"PATH": os.environ["PATH"], "DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 150)
    assert process.returncode == 0, output.decode()
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        assert await connection.fetchval("SELECT version_num FROM alembic_version")
    finally:
        await connection.close()


def test_the_secret_templates_database_urls_pass_the_start_up_checks() -> None:
    [template] = documents(BASE / "secret.template.yaml")
    urls = {k: v for k, v in template["stringData"].items() if k.endswith("_DATABASE_URL")}
    assert len(urls) == len(SERVICES)
    for url in urls.values():
        assert DatabaseSettings(database_url=url).database_url == url
        assert "sslmode=" in url


def test_tokens_are_checked_for_an_audience_and_an_issuer() -> None:
    config = by_kind("ConfigMap")["skileez-config"]["data"]
    assert config["JWT_AUDIENCE"].strip()
    assert URL(config["JWT_ISSUER"]).scheme == "https"


# -- NetworkPolicies ------------------------------------------------------------------------

PEERS = {
    "dns": {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    },
    "ingress controller": {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
    },
    "prometheus": {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    },
}
"""The peers outside the namespace, by name."""

PRIVATE_RANGES = [
    ipaddress.ip_network(cidr)
    for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
]

Allowed = set[tuple[str, str, str]]
"""(peer, protocol, port or port range) a pod may exchange traffic with."""


def pods() -> dict[str, dict[str, str]]:
    """The labels of every pod of the namespace by the name of what makes it, the nodes of
    deploy/k8s/rabbitmq's cluster labelled as its Cluster Operator labels them."""
    found = {
        obj["metadata"]["name"]: obj["spec"]["template"]["metadata"]["labels"]
        for kind in ("Deployment", "Job")
        for obj in by_kind(kind).values()
    }
    [cluster] = documents(K8S / "rabbitmq" / "rabbitmqcluster.yaml")
    found["rabbitmq"] = {
        "app.kubernetes.io/name": cluster["metadata"]["name"],
        "app.kubernetes.io/component": "rabbitmq",
    }
    return found


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes' label selector semantics: `matchLabels` and `matchExpressions`, ANDed."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        value = labels.get(expression["key"])
        matched = {
            "In": value in expression.get("values", []),
            "NotIn": value not in expression.get("values", []),
            "Exists": value is not None,
            "DoesNotExist": value is None,
        }[expression["operator"]]
        if not matched:
            return False
    return True


def peer_name(peer: dict[str, Any]) -> str:
    """A peer by its name in PEERS, "public internet" for an ipBlock of everything but the
    private ranges, "pods: a, b" for pods of the namespace; else the peer itself."""
    for name, known in PEERS.items():
        if peer == known:
            return name
    if "ipBlock" in peer:
        block = ipaddress.ip_network(peer["ipBlock"]["cidr"])
        excepted = [ipaddress.ip_network(cidr) for cidr in peer["ipBlock"].get("except", [])]
        private = [r for r in PRIVATE_RANGES if r.version == block.version]
        if block.prefixlen == 0 and all(r in excepted for r in private):
            return "public internet"
    if set(peer) == {"podSelector"}:
        return "pods: " + ", ".join(
            sorted(name for name, labels in pods().items() if selects(peer["podSelector"], labels))
        )
    return json.dumps(peer, sort_keys=True)


def allowed(labels: dict[str, str], direction: str) -> Allowed:
    """Every (peer, protocol, port) the policies selecting a pod let through in `direction`
    (`Ingress` or `Egress`); a rule without peers allows "anywhere"."""
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        policy
        for policy in by_kind("NetworkPolicy").values()
        if direction in policy["spec"]["policyTypes"]
        and selects(policy["spec"]["podSelector"], labels)
    ]
    assert selecting, f"no policy isolates {labels}: everything is allowed"
    found: Allowed = set()
    for policy in selecting:
        spec = policy["spec"]
        for rule in spec.get(rules_key, []):
            assert rule.get("ports"), f"{policy['metadata']['name']}: a rule for every port"
            for peer in [peer_name(peer) for peer in rule.get(peers_key, [])] or ["anywhere"]:
                for port in rule["ports"]:
                    end = f"-{port['endPort']}" if "endPort" in port else ""
                    found.add((peer, port.get("protocol", "TCP"), f"{port['port']}{end}"))
    return found


DNS = {("dns", "UDP", "53"), ("dns", "TCP", "53")}
IN_CLUSTER_POSTGRESQL = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "postgresql"}}}
"""The base's PostgreSQL: pods of the namespace so labelled (none of these manifests')."""
POSTGRESQL = {(peer_name(IN_CLUSTER_POSTGRESQL), "TCP", "5432")}
RABBITMQ = {("pods: rabbitmq", "TCP", "5672"), ("pods: rabbitmq", "TCP", "5671")}
STRIPE = {("public internet", "TCP", "443")}
SERVICE_APIS = {("pods: " + ", ".join(sorted(FLOW)), "TCP", str(SERVICES[s])) for s in FLOW}
NEEDED_EGRESS = {
    "contracts": DNS | POSTGRESQL | RABBITMQ,
    "payments": DNS | POSTGRESQL | RABBITMQ | STRIPE,
    "scheduling": DNS | POSTGRESQL | RABBITMQ,
    "backoffice": DNS | POSTGRESQL | RABBITMQ | SERVICE_APIS,
    **{f"{service}-migrate": DNS | POSTGRESQL for service in SERVICES},
}


def test_every_pod_of_the_namespace_is_denied_everything_by_default() -> None:
    deny_all = [
        policy["spec"]
        for policy in by_kind("NetworkPolicy").values()
        if set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not policy["spec"].get("ingress")
        and not policy["spec"].get("egress")
    ]
    assert deny_all
    for labels in pods().values():
        assert any(selects(spec["podSelector"], labels) for spec in deny_all), labels


@pytest.mark.parametrize("pod", NEEDED_EGRESS)
def test_each_pod_reaches_out_to_exactly_what_it_needs(pod: str) -> None:
    """DNS, its PostgreSQL, RabbitMQ for the services (their migrations need neither the
    broker nor anything else), Stripe over HTTPS for payments alone; only the backoffice calls
    the other services, for an operator."""
    assert allowed(pods()[pod], "Egress") == NEEDED_EGRESS[pod]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_production_overlay_sends_database_traffic_to_the_databases_range_only() -> None:
    """The base reaches PostgreSQL in the namespace; the production overlay replaces that with
    one address range (a placeholder to set), never anywhere; nothing else changes."""
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / "production")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rendered = {
        doc["metadata"]["name"]: doc
        for doc in yaml.safe_load_all(result.stdout)
        if doc and doc["kind"] == "NetworkPolicy"
    }
    [patch] = documents(K8S / "overlays" / "production" / "postgresql-egress.yaml")[0]
    [block] = patch["value"]
    assert ipaddress.ip_network(block["ipBlock"]["cidr"]).prefixlen > 0  # not everywhere
    for name, policy in by_kind("NetworkPolicy").items():
        egress = policy["spec"].get("egress", [])
        expected = [
            {**rule, "to": [block]} if {"port": 5432, "protocol": "TCP"} in rule["ports"] else rule
            for rule in egress
        ]
        assert rendered[name]["spec"].get("egress", []) == expected, name


@pytest.mark.parametrize("pod", [*SERVICES, *(f"{service}-migrate" for service in SERVICES)])
def test_each_pod_is_reached_only_by_the_ingress_controller_and_prometheus(pod: str) -> None:
    """On the service's port, its public routes (the Ingress) and /metrics, and the
    backoffice acting for an operator on the others; a migration, never."""
    peers = ("ingress controller", "prometheus", *(["pods: backoffice"] if pod in FLOW else []))
    expected = {(peer, "TCP", str(SERVICES[pod])) for peer in peers} if pod in SERVICES else set()
    assert allowed(pods()[pod], "Ingress") == expected


def test_rabbitmq_in_the_namespace_is_reached_by_the_services_and_its_own_nodes() -> None:
    rabbitmq = pods()["rabbitmq"]
    inbound = allowed(rabbitmq, "Ingress")
    services = "pods: " + ", ".join(sorted(SERVICES))
    assert {port for peer, _, port in inbound if peer == services} == {"5672", "5671"}
    assert {port for peer, _, port in inbound if peer == "pods: rabbitmq"} >= {"4369", "25672"}
    assert ("prometheus", "TCP", "15692") in inbound
    assert {peer for peer, _, _ in inbound} <= {
        services,
        "pods: rabbitmq",
        "prometheus",
        peer_name(
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": "rabbitmq-system"}
                },
                "podSelector": {
                    "matchLabels": {"app.kubernetes.io/component": "rabbitmq-operator"}
                },
            }
        ),
    }


# -- the Ingress: public routes only --------------------------------------------------------

OPERATIONAL = ("/metrics", "/health/", "/admin/")
"""Paths every service answers inside the cluster only."""


def routes_of(host: str) -> list[dict[str, Any]]:
    [ingress] = by_kind("Ingress").values()
    return [
        path
        for rule in ingress["spec"]["rules"]
        if rule["host"] == host
        for path in rule["http"]["paths"]
    ]


def routed(routes: list[dict[str, Any]], path: str) -> bool:
    """Whether a request for `path` matches one of `routes` (Kubernetes' Exact and Prefix:
    a prefix matches whole path elements)."""
    for route in routes:
        assert route["pathType"] in ("Exact", "Prefix"), route
        prefix = route["path"].rstrip("/")
        if route["pathType"] == "Exact" and path == route["path"]:
            return True
        if route["pathType"] == "Prefix" and (path == prefix or path.startswith(f"{prefix}/")):
            return True
    return False


def paths_served(service: str) -> set[str]:
    """Every path the service's app answers, a sample value in each `{placeholder}`."""
    app = importlib.import_module(f"skileez_{service}.entrypoints.app")
    settings_type = getattr(
        importlib.import_module(f"skileez_{service}.settings"), f"{service.capitalize()}Settings"
    )
    settings = settings_type(
        database_url="postgresql+asyncpg://svc@db.example/svc",
        port=SERVICES[service],
        jwt_secret="an-ingress-test-secret-of-more-than-32-bytes",
        stripe_secret_key="sk_test_ingress",
        stripe_webhook_secret="whsec_ingress",
    )
    router = app.create_app(settings).router
    return {
        "/".join("x" if part.startswith("{") else part for part in resource.canonical.split("/"))
        for resource in router.resources()
    }


def public_hosts() -> dict[str, str]:
    config = by_kind("ConfigMap")["skileez-config"]["data"]
    return {service: str(URL(config[f"{service.upper()}_URL"]).host) for service in SERVICES}


@pytest.mark.parametrize("service", SERVICES)
def test_the_ingress_routes_every_public_path_to_its_service(service: str) -> None:
    host = public_hosts()[service]
    [ingress] = by_kind("Ingress").values()
    assert any(host in tls["hosts"] for tls in ingress["spec"]["tls"])
    routes = routes_of(host)
    assert {json.dumps(route["backend"], sort_keys=True) for route in routes} == {
        json.dumps({"service": {"name": service, "port": {"name": "http"}}}, sort_keys=True)
    }
    public = {path for path in paths_served(service) if not path.startswith(OPERATIONAL)}
    assert public
    for path in public:
        assert routed(routes, path), f"{service}: {path} is not routed"


@pytest.mark.parametrize("service", SERVICES)
def test_the_ingress_never_routes_metrics_health_or_admin(service: str) -> None:
    served = paths_served(service)
    assert {"/metrics", "/health/ready", "/health/live"} <= served
    operational = {path for path in served if path.startswith(OPERATIONAL)}
    [ingress] = by_kind("Ingress").values()
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts == set(public_hosts().values())
    for host in hosts:
        for path in operational | {"/metrics", "/metrics/", "/admin/dead-letters", "/x"}:
            assert not routed(routes_of(host), path), f"{host}{path} is routed"
        # `/` only where it is a page (contracts' home), never as a prefix of everything.
        assert routed(routes_of(host), "/") == (host == public_hosts()["contracts"])
