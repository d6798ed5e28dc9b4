"""The local run's JWT secret: random, made once per checkout and kept in `.local/jwt-secret`
(mode 0600), so `up`, `demo` and `token` agree and no published value can sign tokens."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

SECRET_FILE = Path(".local") / "jwt-secret"


def jwt_secret(env: Mapping[str, str], path: Path = SECRET_FILE) -> str:
    """`JWT_SECRET` where set; else this checkout's own secret, made on first use."""
    if given := env.get("JWT_SECRET"):
        return given
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another command made it first
            return path.read_text().strip()
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()
