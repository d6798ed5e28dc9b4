"""docker-compose.yml parses, and everything it names exists and lines up: commands with the
Python entry points, environment with the services' settings, health checks with the ports,
migrations before services, mounted files, the env file. (No Docker engine runs here.)"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from yarl import URL

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"contracts": 8001, "payments": 8002, "scheduling": 8003, "backoffice": 8004}
SERVICE_ENV = {
    "DATABASE_URL",
    "AMQP_URL",
    "EVENTS_NAMESPACE",
    "HOST",
    "PORT",
    "JWT_SECRET",
    "CONTRACTS_URL",
    "PAYMENTS_URL",
    "SCHEDULING_URL",
}
STRIPE_ENV = {
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
}
PUBLIC_PORTS = {8001, 8002, 8003, 8004, 12111, 15672}
OBSERVABILITY = {"otel-collector": None, "jaeger": 16686, "prometheus": 9090, "grafana": 3000}
"""The optional profile `observability` (tests/deploy/test_observability.py): its UIs' ports."""
BASE_IMAGES = {"PYTHON_IMAGE", "UV_IMAGE", "POSTGRES_IMAGE", "RABBITMQ_IMAGE"}


def module_of(command: list[str]) -> str:
    assert command[:2] == ["python", "-m"], command
    return command[2]


def published_ports(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    ports = []
    for spec in service.get("ports", []):
        address, host_port, container_port = str(spec).rsplit(":", 2)
        ports.append((address, int(host_port), int(container_port)))
    return ports


def test_the_file_has_the_whole_system(compose) -> None:  # type: ignore[no-untyped-def]
    assert set(compose.raw["services"]) == {
        "postgres",
        "rabbitmq",
        "stripe-emulator",
        "demo",
        *SERVICES,
        *(f"{service}-migrate" for service in SERVICES),
        *OBSERVABILITY,
    }


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_runs_its_entry_point_after_its_migration(compose, name: str) -> None:  # type: ignore[no-untyped-def]
    service, migrate = compose.service(name), compose.service(f"{name}-migrate")
    assert service["command"] == ["python", "-m", f"skileez_{name}", "serve"]
    assert migrate["command"] == ["python", "-m", f"skileez_{name}", "migrate"]
    assert importlib.util.find_spec(f"skileez_{name}") is not None
    assert service["depends_on"][f"{name}-migrate"]["condition"] == "service_completed_successfully"
    assert service["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart") == "no"
    assert service["image"] == migrate["image"] == compose.service("stripe-emulator")["image"]
    # The migration job is configured exactly like the service it migrates.
    assert migrate["environment"] == service["environment"]


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_gets_the_environment_its_settings_read(compose, name: str) -> None:  # type: ignore[no-untyped-def]
    env = compose.service(name)["environment"]
    expected = SERVICE_ENV | (STRIPE_ENV if name == "payments" else set())
    assert expected <= set(env), expected - set(env)
    settings_module = importlib.import_module(f"skileez_{name}.settings")
    settings_type = getattr(settings_module, f"{name.capitalize()}Settings")
    fields = {field.upper() for field in settings_type.model_fields}
    required = {f.upper() for f, info in settings_type.model_fields.items() if info.is_required()}
    assert required <= set(env), f"{name} requires {required - set(env)}"
    unknown = set(env) - fields
    assert not unknown, f"{name}'s settings read no {unknown}"
    assert env["PORT"] == str(SERVICES[name])
    assert env["HOST"] == "0.0.0.0"
    database = make_url(env["DATABASE_URL"])
    assert database.drivername == "postgresql+asyncpg"
    assert (database.username, database.host, database.database) == (name, "postgres", name)
    amqp = URL(env["AMQP_URL"])
    assert (amqp.user, amqp.host, amqp.path) == (name, "rabbitmq", "/skileez")
    # Links a browser follows all use one host, so the sign-in cookie reaches every service.
    hosts = {URL(env[key]).host for key in ("CONTRACTS_URL", "PAYMENTS_URL", "SCHEDULING_URL")}
    assert hosts == {"127.0.0.1"}


def test_without_stripe_keys_payments_talks_to_the_emulator(compose) -> None:  # type: ignore[no-untyped-def]
    payments, emulator = compose.service("payments"), compose.service("stripe-emulator")
    assert payments["environment"]["STRIPE_API_BASE"] == "http://stripe-emulator:12111"
    assert payments["environment"]["STRIPE_SECRET_KEY"].startswith("sk_test_")
    assert module_of(emulator["command"]) == "stripe_emulator"
    webhook = emulator["environment"]["STRIPE_EMULATOR_WEBHOOKS"]
    url, _, secret = webhook.rpartition("=")
    assert url == "http://payments:8002/webhooks/stripe"
    assert secret == payments["environment"]["STRIPE_WEBHOOK_SECRET"]
    assert "--public-url=http://127.0.0.1:12111" in emulator["command"]


def test_with_stripe_keys_in_env_payments_talks_to_stripe(compose) -> None:  # type: ignore[no-untyped-def]
    env = {
        **compose.env_example,
        "STRIPE_SECRET_KEY": "sk_test_real",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_real",
        "STRIPE_API_BASE": "https://api.stripe.com",
    }
    payments = compose.resolved_with(env)["services"]["payments"]["environment"]
    assert payments["STRIPE_API_BASE"] == "https://api.stripe.com"
    assert payments["STRIPE_SECRET_KEY"] == "sk_test_real"


@pytest.mark.parametrize("name", [*SERVICES, "stripe-emulator"])
def test_health_checks_probe_the_readiness_of_the_port_served(compose, name: str) -> None:  # type: ignore[no-untyped-def]
    service = compose.service(name)
    test = service["healthcheck"]["test"]
    assert test[:4] == ["CMD", "python", "-m", "skileez_system.probe"]
    assert importlib.util.find_spec("skileez_system.probe") is not None
    url = URL(test[4])
    port = SERVICES.get(name, 12111)
    assert (url.host, url.port) == ("127.0.0.1", port)
    assert url.path == ("/health/ready" if name in SERVICES else "/_emulator/health")
    assert published_ports(service) == [("127.0.0.1", port, port)]


def test_nothing_but_the_public_ports_is_published_and_only_on_loopback(compose) -> None:  # type: ignore[no-untyped-def]
    published = {
        (name, address, host_port)
        for name, service in compose.resolved["services"].items()
        for address, host_port, _ in published_ports(service)
    }
    ui_ports = {port for port in OBSERVABILITY.values() if port is not None}
    assert {port for _, _, port in published} == PUBLIC_PORTS | ui_ports
    assert {address for _, address, _ in published} == {"127.0.0.1"}
    assert "ports" not in compose.raw["services"]["postgres"]
    assert [p for _, _, p in published_ports(compose.service("rabbitmq"))] == [15672]
    for service in compose.raw["services"].values():
        assert "network_mode" not in service
        assert "expose" not in service


def test_the_build_and_every_mounted_file_exist(compose) -> None:  # type: ignore[no-untyped-def]
    for service in compose.resolved["services"].values():
        if "build" in service:
            context = ROOT / service["build"]["context"]
            assert (context / service["build"]["dockerfile"]).is_file()
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), source
    entrypoint = compose.service("rabbitmq")["entrypoint"][0]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose.service("rabbitmq")["volumes"]}
    assert mounts[entrypoint] == "./deploy/rabbitmq/render-definitions.sh"
    assert mounts["/etc/skileez/definitions.json"] == "./deploy/rabbitmq/definitions.json"
    rabbitmq_conf = (ROOT / "deploy/rabbitmq/rabbitmq.conf").read_text()
    assert "definitions.local.path = /var/lib/rabbitmq/skileez-definitions.json" in rabbitmq_conf
    assert (
        "SKILEEZ_DEFINITIONS_RENDERED:-/var/lib/rabbitmq/skileez-definitions.json"
        in (ROOT / "deploy/rabbitmq/render-definitions.sh").read_text()
    )


def test_secrets_come_from_the_uncommitted_env_file_and_the_example_lists_them(compose) -> None:  # type: ignore[no-untyped-def]
    variables = compose.variables()
    required = {name for name, op in variables.items() if op in (":?", "?")}
    assert required <= set(compose.env_example), required - set(compose.env_example)
    example_text = (ROOT / ".env.example").read_text()
    # Every variable is at least documented: in the example, or (the base images, which only
    # a machine without registry access changes) in deploy/README.md.
    manual = (ROOT / "deploy" / "README.md").read_text()
    for name in variables:
        assert name in example_text or (name in BASE_IMAGES and name in manual), name
    for name, value in compose.env_example.items():
        if name.endswith("_PASSWORD"):
            assert re.fullmatch(r"[A-Za-z0-9._~-]+", value), f"{name} must be URL-safe"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False
    ).returncode
    assert ignored == 0, ".env must be ignored by git"
    # No secret is written into the compose file itself.
    for text in compose.strings():
        assert "whsec_" not in text, text
        assert "sk_live" not in text, text


def test_compose_refuses_to_start_without_the_env_file(compose) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KeyError, match="JWT_SECRET"):
        compose.resolved_with({})


def test_the_base_images_are_variables_defaulting_to_the_official_ones(compose) -> None:  # type: ignore[no-untyped-def]
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.MULTILINE))
    for service in compose.resolved["services"].values():
        if "build" in service:  # the Dockerfile's own defaults, unless set
            assert service["build"]["args"] == {
                "PYTHON_IMAGE": defaults["PYTHON_IMAGE"],
                "UV_IMAGE": defaults["UV_IMAGE"],
            }
    assert compose.service("postgres")["image"] == "postgres:16-alpine"
    assert compose.service("rabbitmq")["image"] == "rabbitmq:3.13-management-alpine"
    local = {name: f"localhost/skileez-local/{name.lower()}:1" for name in BASE_IMAGES}
    resolved = compose.resolved_with({**compose.env_example, **local})["services"]
    assert resolved["postgres"]["image"] == local["POSTGRES_IMAGE"]
    assert resolved["rabbitmq"]["image"] == local["RABBITMQ_IMAGE"]
    assert resolved["contracts"]["build"]["args"]["UV_IMAGE"] == local["UV_IMAGE"]


def test_each_service_runs_as_its_own_non_root_user(compose) -> None:  # type: ignore[no-untyped-def]
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    users = {name: compose.service(name).get("user") for name in [*SERVICES, "stripe-emulator"]}
    assert len(set(users.values())) == len(users), users
    for name, user in users.items():
        assert user not in (None, "root", "0"), name
        assert f"{user}:100" in dockerfile, f"deploy/Dockerfile creates no user {user}"
        if name in SERVICES:  # the migration runs as the service it migrates
            assert compose.service(f"{name}-migrate").get("user") == user
