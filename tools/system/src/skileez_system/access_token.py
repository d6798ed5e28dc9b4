"""`python -m skileez_system token`: a signed access token, to call the services with curl.

Signed like the local run's tokens: `JWT_SECRET`, else the local run's own
(`skileez_system.local_secret`), with `aud` and
`iss` where `JWT_AUDIENCE` / `JWT_ISSUER` are set, as the services check them.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from skileez_system.demo import demo_user_id
from skileez_web.auth import MAX_USER_ID, Role, mint_token

DEFAULT_TTL_SECONDS = 3600


def token_for(
    env: Mapping[str, str],
    secret: str,
    role: Role,
    *,
    user_id: str | None = None,
    name: str | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
) -> str:
    """A token for `user_id` (by default the demo user of `role`, who owns the demo's data)."""
    return mint_token(
        secret,
        user_id or demo_user_id(role),
        role,
        ttl_seconds,
        name=name,
        audience=env.get("JWT_AUDIENCE") or None,
        issuer=env.get("JWT_ISSUER") or None,
    )


def add_token_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `token` command and its options, described for `--help`."""
    token = commands.add_parser(
        "token",
        help="print a signed access token (JWT) for curl",
        description='Print a signed access token, e.g. curl -H "Authorization: Bearer $(uv run '
        'python -m skileez_system token --role student)" http://127.0.0.1:8001/contracts. '
        "Signed with JWT_SECRET (default: the local run's own, in .local/jwt-secret); aud and "
        "iss from "
        "JWT_AUDIENCE and JWT_ISSUER where set.",
    )
    token.add_argument(
        "--role", required=True, choices=[str(role) for role in Role], help="the caller's role"
    )
    token.add_argument(
        "--user-id",
        type=_user_id,
        help="the caller's id, the token's subject (default: the demo user of that role, "
        "who owns what `demo` creates)",
    )
    token.add_argument("--name", help="the caller's display name, shown on pages")
    token.add_argument(
        "--ttl",
        type=_positive,
        default=DEFAULT_TTL_SECONDS,
        metavar="SECONDS",
        help=f"how long the token is valid (default: {DEFAULT_TTL_SECONDS})",
    )


def print_token(args: argparse.Namespace, env: Mapping[str, str], secret: str) -> None:
    print(
        token_for(
            env,
            secret,
            Role(args.role),
            user_id=args.user_id,
            name=args.name,
            ttl_seconds=args.ttl,
        )
    )


def _user_id(value: str) -> str:
    if not 0 < len(value) <= MAX_USER_ID or "\x00" in value:
        raise argparse.ArgumentTypeError(f"1 to {MAX_USER_ID} characters, no NUL")
    return value


def _positive(value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        seconds = 0
    if seconds <= 0:
        raise argparse.ArgumentTypeError("a whole number of seconds, more than 0")
    return seconds
