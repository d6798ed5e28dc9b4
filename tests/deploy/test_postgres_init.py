"""deploy/postgres/init-databases.sh, run against the machine's PostgreSQL (with a name
prefix): one role and one database per service, and no role can enter another's database."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "postgres" / "init-databases.sh"
SERVICES = ("contracts", "payments", "scheduling", "backoffice")

pytestmark = pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")


@pytest.fixture
def initialised(postgres_server_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    server = make_url(postgres_server_url)
    prefix = f"test_init_{uuid.uuid4().hex[:8]}_"
    passwords = {service: f"pw-{uuid.uuid4().hex}" for service in SERVICES}
    env = {
        **os.environ,
        "DATABASE_PREFIX": prefix,
        "POSTGRES_USER": server.username or "postgres",
        "PGHOST": server.host or "127.0.0.1",
        "PGPORT": str(server.port or 5432),
        **({"PGPASSWORD": server.password} if server.password else {}),
        **{f"{service.upper()}_DB_PASSWORD": pw for service, pw in passwords.items()},
    }
    admin = ["psql", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", "postgres"]
    admin += ["--username", env["POSTGRES_USER"]]
    try:
        subprocess.run(["bash", str(SCRIPT)], env=env, check=True, capture_output=True)
        yield prefix, passwords
    finally:
        for service in SERVICES:
            for statement in (
                f'DROP DATABASE IF EXISTS "{prefix}{service}" WITH (FORCE)',
                f'DROP ROLE IF EXISTS "{prefix}{service}"',
            ):
                subprocess.run([*admin, "-c", statement], env=env, check=False)


async def test_each_service_owns_its_database_and_cannot_enter_another(
    initialised: tuple[str, dict[str, str]], postgres_server_url: str
) -> None:
    prefix, passwords = initialised
    server = make_url(postgres_server_url)
    for service in SERVICES:
        role = f"{prefix}{service}"
        own = await asyncpg.connect(
            host=server.host,
            port=server.port,
            user=role,
            password=passwords[service],
            database=role,
        )
        try:
            await own.execute("CREATE TABLE alembic_probe (id int PRIMARY KEY)")
        finally:
            await own.close()
        for other in SERVICES:
            if other == service:
                continue
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await asyncpg.connect(
                    host=server.host,
                    port=server.port,
                    user=role,
                    password=passwords[service],
                    database=f"{prefix}{other}",
                )


def test_a_missing_password_stops_the_init(postgres_server_url: str) -> None:
    env = {key: value for key, value in os.environ.items() if not key.endswith("_DB_PASSWORD")}
    result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "CONTRACTS_DB_PASSWORD is not set" in result.stderr
