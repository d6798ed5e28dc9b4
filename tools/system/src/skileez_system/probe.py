"""`python -m skileez_system.probe URL`: exit 0 when URL answers 200, 1 otherwise.

The container health check: the runtime image has no curl, and this needs only the stdlib.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def answers_ok(url: str, timeout: float = 3.0) -> bool:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - checked
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m skileez_system.probe URL", file=sys.stderr)
        return 2
    return 0 if answers_ok(argv[0]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
