"""What the deployment validation tests share: the repository's deployment files, parsed,
and a throw-away RabbitMQ vhost with the per-service users of deploy/rabbitmq.

No Docker engine or cluster runs here; these tests check what can be checked without one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from yarl import URL

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SERVICES = {"contracts": 8001, "payments": 8002, "scheduling": 8003, "backoffice": 8004}
EMULATOR_PORT = 12111

_VARIABLE = re.compile(
    r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\})"
)


def read_dotenv(path: Path) -> dict[str, str]:
    """The assignments of an env file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"{path.name}: not NAME=value: {line!r}"
        values[name.strip()] = value.strip()
    return values


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Docker Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}`, `${VAR:+alt}`, `$$`."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = env.get(name)
        unset = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if unset else str(current)
        if op in (":?", "?"):
            if unset:
                raise KeyError(f"compose would refuse to start: {name}: {arg}")
            return str(current)
        if op in (":+", "+"):
            return "" if unset else arg
        return "" if current is None else current

    return _VARIABLE.sub(replace, value)


def variables_in(value: str) -> list[tuple[str, str | None]]:
    """(name, operator) of every `${...}` in a string."""
    return [(m.group("name"), m.group("op")) for m in _VARIABLE.finditer(value) if m.group("name")]


def walk_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from walk_strings(key)
            yield from walk_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_strings(item)


def resolve(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: resolve(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, env) for item in node]
    return node


@dataclass(frozen=True)
class Compose:
    """docker-compose.yml as written (`raw`) and as compose would run it with the .env that the
    README's first run writes: .env.example with a fresh JWT_SECRET (its placeholder is refused)."""

    raw: dict[str, Any]
    env_example: dict[str, str]

    @property
    def resolved(self) -> dict[str, Any]:
        resolved: dict[str, Any] = resolve(self.raw, self.env_example)
        return resolved

    def resolved_with(self, env: Mapping[str, str]) -> dict[str, Any]:
        resolved: dict[str, Any] = resolve(self.raw, env)
        return resolved

    def variables(self) -> dict[str, str | None]:
        """Every `${VAR}` the file uses, with its operator (`:-`, `:?`, ... or None)."""
        return {name: op for text in walk_strings(self.raw) for name, op in variables_in(text)}

    def strings(self) -> list[str]:
        return list(walk_strings(self.raw))

    def service(self, name: str) -> dict[str, Any]:
        service: dict[str, Any] = self.resolved["services"][name]
        return service


@pytest.fixture(scope="session")
def compose() -> Compose:
    return Compose(
        raw=yaml.safe_load((ROOT / "docker-compose.yml").read_text()),
        env_example=read_dotenv(ROOT / ".env.example") | {"JWT_SECRET": secrets.token_hex(32)},
    )


def python_command(command: list[str]) -> list[str]:
    """A container's `python -m ...` command line, run with this interpreter instead."""
    assert command[0] == "python", command
    return [sys.executable, *command[1:]]


# -- a throw-away vhost with the per-service users of deploy/rabbitmq -----------------------


@dataclass(frozen=True)
class BrokerUsers:
    vhost: str
    users: dict[str, str]
    """deploy/rabbitmq user name (contracts, ...) -> the name it got in this test run."""
    urls: dict[str, str]
    """deploy/rabbitmq user name -> AMQP URL of that user on the throw-away vhost."""


def rabbitmqctl(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        ["rabbitmqctl", "-q", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stderr or result.stdout}")
    return result.stdout


def render_definitions(passwords: Mapping[str, str], output: Path) -> dict[str, Any]:
    """Run deploy/rabbitmq/render-definitions.sh (render only) and load what it wrote."""
    env = {
        **os.environ,
        "SKILEEZ_DEFINITIONS_TEMPLATE": str(DEPLOY / "rabbitmq" / "definitions.json"),
        "SKILEEZ_DEFINITIONS_RENDERED": str(output),
        **{f"RABBITMQ_{user.upper()}_PASSWORD": pw for user, pw in passwords.items()},
    }
    subprocess.run(["sh", str(DEPLOY / "rabbitmq" / "render-definitions.sh")], env=env, check=True)
    definitions: dict[str, Any] = json.loads(output.read_text())
    return definitions


def import_definitions(definitions: dict[str, Any], vhost: str, expected_users: int) -> None:
    """`rabbitmqctl import_definitions`, then wait: the import finishes asynchronously
    (permissions, then exchanges, queues and last their bindings)."""
    # rabbitmqctl runs as the rabbitmq user, who cannot read pytest's private tmp: a file
    # of its own under /tmp, readable, removed at once (throw-away passwords only).
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir="/tmp", delete=False) as file:
        json.dump(definitions, file)
    path = Path(file.name)
    try:
        path.chmod(0o644)
        rabbitmqctl("import_definitions", str(path))
        deadline = time.monotonic() + 30
        while True:
            try:
                listed = rabbitmqctl("list_permissions", "-p", vhost, "--no-table-headers")
                bound = rabbitmqctl(
                    "list_bindings",
                    "-p",
                    vhost,
                    "source_name",
                    "destination_name",
                    "--no-table-headers",
                )
            except RuntimeError:
                listed = bound = ""  # the vhost does not exist yet
            bindings = {tuple(line.split("\t")) for line in bound.splitlines()}
            expected = {(b["source"], b["destination"]) for b in definitions["bindings"]}
            if len(listed.strip().splitlines()) >= expected_users and expected <= bindings:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"definitions not imported after 30 s: {listed!r}")
            time.sleep(0.2)
    finally:
        path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def broker_users(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerUsers]:
    """deploy/rabbitmq/definitions.json, rendered by its own script, imported with
    rabbitmqctl under a fresh vhost and fresh user names (users are broker-wide); removed after."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed: cannot create the throw-away broker users")
    run = uuid.uuid4().hex[:10]
    passwords = {user: f"pw-{user}-{uuid.uuid4().hex}" for user in ("ops", *SERVICES)}
    definitions = render_definitions(passwords, tmp_path_factory.mktemp("rabbitmq") / "d.json")
    vhost = f"test-deploy-{run}"
    renamed = {user["name"]: f"test-{run}-{user['name']}" for user in definitions["users"]}
    for user in definitions["users"]:
        user["name"] = renamed[user["name"]]
    for vhost_entry in definitions["vhosts"]:
        vhost_entry["name"] = vhost
    for permission in definitions["permissions"]:
        permission["user"] = renamed[permission["user"]]
    for section in ("permissions", "policies", "exchanges", "queues", "bindings"):
        for entry in definitions[section]:
            entry["vhost"] = vhost
    try:
        import_definitions(definitions, vhost, expected_users=len(renamed))
        base = URL(amqp_url)
        urls = {
            user: str(
                URL.build(
                    scheme=base.scheme,
                    host=base.host or "127.0.0.1",
                    port=base.port,
                    user=renamed[user],
                    password=passwords[user],
                    path=f"/{vhost}",
                )
            )
            for user in renamed
        }
        yield BrokerUsers(vhost=vhost, users=renamed, urls=urls)
    finally:
        for command in (["delete_vhost", vhost], *(["delete_user", n] for n in renamed.values())):
            with contextlib.suppress(RuntimeError):  # never imported: nothing to clean
                rabbitmqctl(*command)
