"""`python -m skileez_system token` and `--help`, run as a user would, in a subprocess."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import jwt

from skileez_system.demo import demo_user_id
from skileez_web.auth import Principal, Role, TokenRules, verified

SECRET = "a-test-secret-that-is-at-least-32-bytes-long"


def run(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"JWT_SECRET", "JWT_AUDIENCE", "JWT_ISSUER"}
    }
    return subprocess.run(
        [sys.executable, "-m", "skileez_system", *args],
        env={**environment, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_token_prints_a_jwt_signed_with_jwt_secret_and_its_audience_and_issuer() -> None:
    printed = run(
        "token",
        "--role",
        "coach",
        "--user-id",
        "coach-7",
        "--name",
        "Ada Coach",
        "--ttl",
        "120",
        JWT_SECRET=SECRET,
        JWT_AUDIENCE="skileez-api",
        JWT_ISSUER="https://skileez.example",
    )
    assert printed.returncode == 0, printed.stderr
    token = printed.stdout.strip()
    assert printed.stdout == token + "\n"  # nothing else: usable as $(...)
    claims = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience="skileez-api",
        issuer="https://skileez.example",
    )
    assert claims["sub"] == "coach-7"
    assert claims["role"] == "coach"
    assert claims["name"] == "Ada Coach"
    assert claims["exp"] - time.time() <= 120
    accepted, _ = verified(token, TokenRules(SECRET, "skileez-api", "https://skileez.example"))
    assert accepted == Principal("coach-7", Role.COACH, "Ada Coach")  # as a service reads it


def test_by_default_the_token_is_the_demo_users_signed_with_this_checkouts_own_secret(
    tmp_path: Path,
) -> None:
    printed = run("token", "--role", "student", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    secret_file = tmp_path / ".local" / "jwt-secret"
    secret = secret_file.read_text().strip()
    assert len(secret) == 64  # 32 random bytes, made on first use
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    claims = jwt.decode(printed.stdout.strip(), secret, algorithms=["HS256"])
    assert claims["sub"] == demo_user_id(Role.STUDENT)
    assert claims["role"] == "student"
    assert "aud" not in claims
    assert "iss" not in claims
    assert 3500 < claims["exp"] - time.time() <= 3600
    again = run("token", "--role", "coach", cwd=tmp_path)  # the same secret, kept
    assert jwt.decode(again.stdout.strip(), secret, algorithms=["HS256"])["role"] == "coach"
    run("token", "--role", "student", cwd=tmp_path / ".local")  # another checkout: its own
    assert (tmp_path / ".local" / ".local" / "jwt-secret").read_text().strip() != secret


def test_bad_options_are_refused_with_a_usage_message() -> None:
    for args in (["--role", "owner"], ["--role", "admin", "--ttl", "0"], []):
        refused = run("token", *args)
        assert refused.returncode == 2, args
        assert refused.stdout == ""
        assert "usage: python -m skileez_system token" in refused.stderr


def test_help_describes_each_command() -> None:
    described = run("--help")
    assert described.returncode == 0
    flowing = " ".join(described.stdout.split())
    for described_command in (
        "up migrate and start the four services",
        "demo against a running system",
        "token print a signed access token",
    ):
        assert described_command in flowing, described.stdout
    token_help = run("token", "--help").stdout
    for option in ("--role", "--user-id", "--name", "--ttl", "JWT_SECRET", "curl"):
        assert option in token_help
