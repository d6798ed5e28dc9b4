"""The README's first command, run for real: docker-compose.yml up, every health check passed,
one payment walked through it from outside the containers, each service under its own
database and broker user, then a SIGTERM stop that every container survives cleanly.

Where a Docker engine answers this runs `docker compose`; where podman runs (and no Docker
engine) `deploy/podman/compose.sh`, which builds local base images and runs the same file with
podman-compose; where neither can run containers it skips. A fresh project name, fresh volumes,
and the published ports on a loopback address of its own (BIND_ADDRESS: 127.x.y.z), so neither
this machine's servers nor another run's stack collide with it; all removed afterwards.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import yaml

from skileez_web.auth import Role, mint_token

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_SH = ROOT / "deploy" / "podman" / "compose.sh"
SERVICES = {"contracts": 8001, "payments": 8002, "scheduling": 8003}
EMULATOR_PORT = 12111
UP_TIMEOUT = 1200  # a cold podman run builds the base images first: about 5 min here
pytestmark = pytest.mark.timeout(UP_TIMEOUT + 420)

T = TypeVar("T")


@dataclass
class Engine:
    name: str
    compose: list[str]
    """The compose command on docker-compose.yml, up to its other options."""
    cli: list[str]
    """The engine's own command (inspect, exec, healthcheck)."""


def _answers(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=60, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def find_engine() -> Engine | str:
    """The engine to run with, or the one-line reason to skip."""
    if shutil.which("docker") and _answers(["docker", "info"]):
        if _answers(["docker", "compose", "version"]):
            compose_file = str(ROOT / "docker-compose.yml")
            return Engine("docker", ["docker", "compose", "-f", compose_file], ["docker"])
        return "a Docker engine answers but the `docker compose` plugin is missing"
    if shutil.which("podman") is None:
        return "no container engine: no Docker engine answers and podman is not installed"
    if not _answers(["podman", "info"]):
        return "no container engine: no Docker engine answers and `podman info` fails"
    if not (shutil.which("podman-compose") or (ROOT / ".venv/bin/podman-compose").exists()):
        return "podman-compose is not installed (uv sync: the dev group)"
    return Engine("podman", [str(COMPOSE_SH)], [str(COMPOSE_SH), "podman"])


# -- the stack ------------------------------------------------------------------------------


@dataclass
class Stack:
    engine: Engine
    project: str
    env_file: Path
    env: dict[str, str]
    address: str
    log: list[str] = field(default_factory=list)

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        command = [
            *self.engine.compose,
            "-p",
            self.project,
            "--env-file",
            str(self.env_file),
            *args,
        ]
        return self._run(command, timeout)

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self._run([*self.engine.cli, *args], timeout)

    def _run(self, command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        result = subprocess.run(
            command,
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        shown = " ".join([Path(command[0]).name, *command[1:]]).splitlines()[0][:150]
        self.log.append(f"[{time.monotonic() - started:6.1f} s] {shown} -> {result.returncode}")
        return result

    def containers(self) -> dict[str, dict[str, Any]]:
        """service -> `inspect` of its container, for every container of this project."""
        listed = self.cli(
            "ps",
            "-a",
            "--filter",
            f"label=com.docker.compose.project={self.project}",
            "--format",
            "{{.ID}}",
        )
        assert listed.returncode == 0, listed.stderr
        ids = listed.stdout.split()
        if not ids:
            return {}
        inspected = self.cli("inspect", *ids)
        assert inspected.returncode == 0, inspected.stderr
        return {
            item["Config"]["Labels"]["com.docker.compose.service"]: item
            for item in json.loads(inspected.stdout)
        }

    def url(self, port: int) -> str:
        return f"http://{self.address}:{port}"

    def logs(self) -> str:
        parts = []
        for service, item in sorted(self.containers().items()):
            logs = self.cli("logs", "--tail", "40", item["Id"])
            parts.append(f"--- {service} ({item['State']['Status']}):\n{logs.stdout}{logs.stderr}")
        return "\n".join(parts)


def stack_env(address: str) -> dict[str, str]:
    """The .env of this run: .env.example's names, fresh secrets, this run's own address."""
    values = {
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "CONTRACTS_DB_PASSWORD": secrets.token_hex(16),
        "PAYMENTS_DB_PASSWORD": secrets.token_hex(16),
        "SCHEDULING_DB_PASSWORD": secrets.token_hex(16),
        "BACKOFFICE_DB_PASSWORD": secrets.token_hex(16),
        "RABBITMQ_OPS_PASSWORD": secrets.token_hex(16),
        "RABBITMQ_CONTRACTS_PASSWORD": secrets.token_hex(16),
        "RABBITMQ_PAYMENTS_PASSWORD": secrets.token_hex(16),
        "RABBITMQ_SCHEDULING_PASSWORD": secrets.token_hex(16),
        "RABBITMQ_BACKOFFICE_PASSWORD": secrets.token_hex(16),
        "JWT_SECRET": secrets.token_hex(24),
        "JWT_AUDIENCE": "skileez",
        "JWT_ISSUER": f"compose-test-{secrets.token_hex(4)}",
        "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
        "BIND_ADDRESS": address,
        "PUBLIC_BASE": f"http://{address}",
        # One image tag for these runs: rebuilt from the layer cache, never a user's `local`.
        "SKILEEZ_TAG": "compose-test",
    }
    example = (ROOT / ".env.example").read_text()
    for name in values:
        assert name in example, f"{name} is not in .env.example"
    return values


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    engine = find_engine()
    if isinstance(engine, str):
        pytest.skip(engine)
    # A loopback address of this run's own: the published ports cannot collide with this
    # machine's (127.0.0.1) or another run's.
    address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    values = stack_env(address)
    env_file = tmp_path_factory.mktemp("compose") / "stack.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    # Compose lets the process environment win over the env file: keep only what a shell
    # would have, so nothing of this test run's (or a developer's Stripe keys) leaks in.
    inherited = ("PATH", "HOME", "LANG", "TMPDIR", "DOCKER_HOST", "XDG_RUNTIME_DIR")
    env = {key: os.environ[key] for key in inherited if key in os.environ}
    for key in ("PYTHON_IMAGE", "UV_IMAGE", "POSTGRES_IMAGE", "RABBITMQ_IMAGE"):
        if key in os.environ:
            env[key] = os.environ[key]
    stack = Stack(engine, f"skileez-test-{uuid.uuid4().hex[:8]}", env_file, env, address)
    try:
        yield stack
    finally:
        down = stack.compose("down", "-v", "--remove-orphans", "-t", "5", timeout=180)
        assert down.returncode == 0, down.stdout + down.stderr
        # A rebuilt image leaves its predecessor untagged: no run keeps one behind.
        stack.cli("image", "prune", "--force")
        print("\n".join(stack.log))


# -- helpers --------------------------------------------------------------------------------


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(interval)


def healthy(stack: Stack, item: dict[str, Any]) -> bool:
    """Whether the container's compose health check passes now."""
    if stack.engine.name == "podman":
        # No systemd timers here: run the check itself (as podman's timer would).
        return stack.cli("healthcheck", "run", item["Id"]).returncode == 0
    state = stack.cli("inspect", "--format", "{{.State.Health.Status}}", item["Id"])
    return state.stdout.strip() == "healthy"


def health_check_of(item: dict[str, Any]) -> Any:
    return item["Config"].get("Healthcheck") or item["Config"].get("HealthCheck")


def container_ip(item: dict[str, Any]) -> str:
    networks = item["NetworkSettings"]["Networks"]
    [network] = networks.values()
    address: str = network["IPAddress"]
    return address


def uid_of_command(stack: Stack, item: dict[str, Any], module: str) -> set[int]:
    """The real UIDs of the processes in the container whose command line runs `module`."""
    script = (
        "import os, sys\n"
        "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
        "    try:\n"
        "        cmd = open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')\n"
        "        status = open(f'/proc/{pid}/status').read()\n"
        "    except OSError:\n"
        "        continue\n"
        "    if sys.argv[1].encode() in cmd and b'-m' in cmd:\n"
        "        print(next(l.split()[1] for l in status.splitlines() if l.startswith('Uid:')))\n"
    )
    result = stack.cli("exec", item["Id"], "python", "-c", script, module)
    assert result.returncode == 0, result.stderr
    return {int(uid) for uid in result.stdout.split()}


class Client:
    """A user of the system from outside the containers, over the published ports."""

    def __init__(self, stack: Stack, env: dict[str, str], role: Role) -> None:
        self.user_id = f"{role}-{uuid.uuid4().hex[:8]}"
        self.token = mint_token(
            env["JWT_SECRET"],
            self.user_id,
            role,
            audience=env["JWT_AUDIENCE"],
            issuer=env["JWT_ISSUER"],
        )
        self.stack = stack
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def call(self, method: str, service: str, path: str, body: Any = None) -> requests.Response:
        url = f"{self.stack.url(SERVICES[service])}{path}"
        return self.http.request(method, url, json=body, timeout=15, allow_redirects=False)


# -- the test -------------------------------------------------------------------------------


def test_compose_up_a_payment_through_the_stack_and_a_clean_sigterm_stop(stack: Stack) -> None:
    compose_file = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    expected = {
        name
        for name, service in compose_file["services"].items()
        if not service.get("profiles")  # `demo` runs on demand only
    }
    started = time.monotonic()
    up = stack.compose("up", "-d", "--build", timeout=UP_TIMEOUT)
    assert up.returncode == 0, f"{up.stdout[-4000:]}\n{up.stderr[-4000:]}\n{stack.logs()}"

    # -- every container up, every one-shot migration done, every health check passing ----
    def all_up() -> dict[str, dict[str, Any]] | None:
        containers = stack.containers()
        if set(containers) != expected:
            return None
        for service, item in containers.items():
            if service.endswith("-migrate"):
                if item["State"]["Status"] != "exited":
                    return None
                assert item["State"]["ExitCode"] == 0, stack.logs()
            elif item["State"]["Status"] != "running" or (
                health_check_of(item) and not healthy(stack, item)
            ):
                return None
        return containers

    try:
        containers = wait_for(all_up, 180, "every container running and healthy", interval=2)
    except AssertionError:
        raise AssertionError(f"not up and healthy within 180 s:\n{stack.logs()}") from None
    up_seconds = time.monotonic() - started
    stack.log.append(f"up and healthy after {up_seconds:.0f} s ({stack.engine.name})")
    for service in (*SERVICES, "stripe-emulator", "postgres", "rabbitmq"):
        assert health_check_of(containers[service]), f"{service} has no health check"

    # -- one payment, from outside the containers ---------------------------------------
    env = dict(line.split("=", 1) for line in stack.env_file.read_text().splitlines())
    coach = Client(stack, env, Role.COACH)
    student = Client(stack, env, Role.STUDENT)
    # The stack checks `aud` and `iss`: a token without them is refused.
    unaimed = mint_token(env["JWT_SECRET"], coach.user_id, Role.COACH)
    refused = requests.get(
        f"{stack.url(SERVICES['contracts'])}/contracts",
        headers={"Authorization": f"Bearer {unaimed}"},
        timeout=15,
    )
    assert refused.status_code == 401, refused.text

    proposal = coach.call(
        "POST",
        "contracts",
        "/proposals",
        {
            "student_id": student.user_id,
            "title": "Compose run",
            "description": "One payment through the containers",
            "session_count": 4,
            "price_per_session": 4_500,
            "currency": "eur",
        },
    )
    assert proposal.status_code == 201, proposal.text
    proposal_id = proposal.json()["id"]
    accepted = student.call("POST", "contracts", f"/proposals/{proposal_id}/accept")
    assert accepted.status_code == 200, accepted.text
    created = student.call("POST", "contracts", "/contracts", {"proposal_id": proposal_id})
    assert created.status_code == 201, created.text
    contract_id = created.json()["id"]
    assert created.json()["status"] == "pending"

    def pay() -> requests.Response | None:  # once payments has learnt ContractCreated
        answer = student.call("POST", "payments", f"/contracts/{contract_id}/pay")
        return None if answer.status_code == 404 else answer

    checkout = wait_for(pay, 30, "payments learns the contract", interval=0.3)
    assert checkout.status_code in (200, 201), checkout.text
    checkout_url = checkout.json()["checkout_url"]
    # The emulator's hosted page, at the address the browser is sent to (published port).
    assert checkout_url.startswith(f"{stack.url(EMULATOR_PORT)}/c/pay/cs_"), checkout_url
    browser = requests.Session()
    page = browser.get(checkout_url, timeout=15)
    assert page.status_code == 200, page.text
    assert "<form" in page.text
    paid = browser.post(
        checkout_url, data={"method": "card_success"}, allow_redirects=False, timeout=15
    )
    assert paid.status_code == 303, paid.text
    success_url = paid.headers["Location"]
    assert success_url.startswith(f"{stack.url(SERVICES['payments'])}/"), success_url
    success = student.http.get(success_url, timeout=15, allow_redirects=False)
    assert success.status_code == 200, success.text

    emulator = stack.url(EMULATOR_PORT)

    def webhook_delivered() -> list[Any] | None:
        listed = requests.get(
            f"{emulator}/_emulator/webhooks/deliveries",
            params={"event_type": "checkout.session.completed", "outcome": "delivered"},
            timeout=10,
        ).json()["data"]
        return listed or None

    [delivery, *_] = wait_for(webhook_delivered, 30, "the webhook delivered to payments")
    assert delivery["url"] == "http://payments:8002/webhooks/stripe"
    assert 200 <= delivery["status"] < 300, delivery

    def active() -> Any:
        contract = student.call("GET", "contracts", f"/contracts/{contract_id}").json()
        return contract if contract.get("status") == "active" else None

    contract = wait_for(active, 30, "the contract active", interval=0.3)
    assert contract["payment_status"] == "paid"
    assert contract["amount"] == 4 * 4_500

    starts = (datetime.now(UTC) + timedelta(days=3)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    slot = {"starts_at": starts.isoformat(), "duration_minutes": 60}

    def booked() -> requests.Response | None:  # once scheduling has learnt the payment
        answer = student.call("POST", "scheduling", f"/contracts/{contract_id}/sessions", slot)
        return answer if answer.status_code == 201 else None

    booking = wait_for(booked, 30, "a session booked", interval=0.5)
    assert booking.json()["contract_id"] == contract_id

    # -- each service: a non-root process, its own database role and broker user --------
    containers = stack.containers()
    address_of = {container_ip(containers[name]): name for name in SERVICES}
    modules = {name: f"skileez_{name}" for name in SERVICES}
    modules["stripe-emulator"] = "stripe_emulator"
    uids = {name: uid_of_command(stack, containers[name], mod) for name, mod in modules.items()}
    for name, found in uids.items():
        assert len(found) == 1, f"{name}: processes running as {found or 'nobody'}"
        assert 0 not in found, f"{name} runs as root"
    assert len({uid for found in uids.values() for uid in found}) == len(uids), uids

    sessions = stack.cli(
        "exec",
        containers["postgres"]["Id"],
        "psql",
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-Atc",
        "SELECT usename, datname, host(client_addr) FROM pg_stat_activity "
        "WHERE client_addr IS NOT NULL",
    )
    assert sessions.returncode == 0, sessions.stderr
    seen_db: dict[str, set[tuple[str, str]]] = {}
    for line in sessions.stdout.splitlines():
        user, database, client = line.split("|")
        seen_db.setdefault(address_of.get(client, client), set()).add((user, database))
    for name in SERVICES:
        assert seen_db.get(name) == {(name, name)}, seen_db

    connections = stack.cli(
        "exec",
        containers["rabbitmq"]["Id"],
        "rabbitmqctl",
        "-q",
        "list_connections",
        "user",
        "vhost",
        "peer_host",
        "--no-table-headers",
    )
    assert connections.returncode == 0, connections.stderr
    seen_amqp: dict[str, set[tuple[str, str]]] = {}
    for line in connections.stdout.splitlines():
        user, vhost, peer = line.split()
        seen_amqp.setdefault(address_of.get(peer, peer), set()).add((user, vhost))
    for name in SERVICES:
        assert seen_amqp.get(name) == {(name, "skileez")}, seen_amqp
    users = stack.cli("exec", containers["rabbitmq"]["Id"], "rabbitmqctl", "-q", "list_users")
    assert "guest" not in users.stdout.split(), users.stdout

    # -- stop: SIGTERM to every container, each exits 0 within its grace period ----------
    # A container its grace period ran out on is SIGKILLed and exits 137, so a clean exit code
    # is the proof; the stop's wall time is only logged (compose may stop them one by one).
    for name, service in compose_file["services"].items():
        if name in SERVICES or name == "stripe-emulator":
            assert service.get("stop_signal", "SIGTERM") == "SIGTERM"
    stopping = time.monotonic()
    stop = stack.compose("stop", timeout=120)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    stack.log.append(f"stopped after {time.monotonic() - stopping:.1f} s")
    stopped = stack.containers()
    codes = {name: (c["State"]["Status"], c["State"]["ExitCode"]) for name, c in stopped.items()}
    finished = sorted((c["State"]["FinishedAt"], name) for name, c in stopped.items())
    stack.log.append(f"exit codes: {codes}; exit order: {finished}")
    unclean = {name: code for name, code in codes.items() if code != ("exited", 0)}
    assert not unclean, f"not a clean exit on SIGTERM: {unclean}\n{stack.logs()}"
