"""deploy/Dockerfile, read as text (no Docker engine here): multi-stage, pinned uv,
`uv sync --frozen`, every workspace member copied, a non-root final stage without build
tools or uv, tini as PID 1, and exec-form commands that name real entry points."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make ", "clang", "python3-dev", "libpq-dev")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def stages() -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    current = None
    for keyword, rest in instructions():
        if keyword == "FROM":
            current = rest.split(" AS ")[-1].strip() if " AS " in rest else rest
            found[current] = []
        elif current is not None:
            found[current].append((keyword, rest))
    return found


def test_uv_is_pinned_and_the_sync_is_frozen_without_dev_dependencies() -> None:
    # The base images are build arguments (a machine without registry access substitutes
    # local ones: deploy/podman/compose.sh); their defaults are the official, pinned images.
    arguments = dict(
        rest.split("=", 1) for keyword, rest in instructions() if keyword == "ARG" and "=" in rest
    )
    assert re.fullmatch(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+", arguments["UV_IMAGE"])
    assert arguments["PYTHON_IMAGE"] == "python:3.11-slim-bookworm"
    froms = [rest for keyword, rest in instructions() if keyword == "FROM"]
    assert froms == ["${UV_IMAGE} AS uv", "${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]
    syncs = [rest for keyword, rest in stages()["build"] if "uv sync" in rest]
    assert syncs
    assert all("--frozen" in s and "--no-dev" in s for s in syncs)
    assert any("--no-editable" in s for s in syncs)  # the runtime needs the venv, not sources


def test_every_workspace_member_and_the_lock_are_copied_into_the_build() -> None:
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    copies = [  # from the build context, not from another stage or image
        rest.split()
        for keyword, rest in stages()["build"]
        if keyword == "COPY" and "--from=" not in rest
    ]
    sources = {source for parts in copies for source in parts[:-1] if not source.startswith("--")}
    assert {"pyproject.toml", "uv.lock"} <= sources
    for member in workspace["members"]:
        assert f"{member}/pyproject.toml" in sources, member
        assert any(member.startswith(f"{s}/") or member == s for s in sources), member
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not dockerignored(source), f"{source} is excluded by .dockerignore"


def dockerignored(path: str) -> bool:
    """Whether .dockerignore leaves `path` out of the build context (last match wins)."""
    ignored = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        candidates = [path, *(str(parent) for parent in Path(path).parents if str(parent) != ".")]
        if any(
            fnmatch.fnmatch(c, pattern) or fnmatch.fnmatch(c, pattern.replace("**/", ""))
            for c in candidates
        ):
            ignored = not negate
    return ignored


def test_secrets_and_local_state_stay_out_of_the_build_context() -> None:
    for path in (".env", ".venv/bin/python", ".git/config", "libs/events/tests/test_relay.py"):
        assert dockerignored(path), path
    for path in ("uv.lock", "services/payments/src/skileez_payments/__init__.py"):
        assert not dockerignored(path), path


def test_the_runtime_stage_is_non_root_without_build_tools_or_uv() -> None:
    runtime = stages()["runtime"]
    [user] = [rest for keyword, rest in runtime if keyword == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    for keyword, rest in runtime:
        if keyword == "RUN":
            assert not any(tool in rest for tool in BUILD_TOOLS), rest
            assert "uv " not in rest
        if keyword == "COPY":
            assert "--from=uv" not in rest
            assert "--from=build /app/.venv" in rest  # the virtualenv only, no sources
    assert list(stages())[-1] == "runtime"  # what `docker build` produces by default


def test_tini_forwards_signals_to_an_exec_form_command_that_is_a_real_entry_point() -> None:
    runtime = dict(stages()["runtime"])
    assert json.loads(runtime["ENTRYPOINT"]) == ["tini", "--"]
    assert "tini" in runtime["RUN"]
    assert runtime["STOPSIGNAL"] == "SIGTERM"
    command = json.loads(runtime["CMD"])
    assert command[:2] == ["python", "-m"]
    assert importlib.util.find_spec(command[2]) is not None
    assert "PATH=/app/.venv/bin:$PATH" in runtime["ENV"]
