"""Shutdown steps that always end, and say where they were stuck when they overran."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger(__name__)

STEP_TIMEOUT = 12.0
"""How long one step of a service's shutdown (draining or stopping a loop, closing the pool)
may take: above the bounds the loops put on their own draining (the consumer's 10 s, the
relay's 5 s), so a step that overruns it is stuck, not slow."""


async def within(name: str, step: Awaitable[Any], timeout: float | None = None) -> bool:
    """Wait for `step` (a task, or a coroutine run as one) for at most `timeout` s
    (`STEP_TIMEOUT` if not given); True if it ended.

    One that overruns is cancelled and left behind, and what every task was waiting for is
    logged, so that the shutdown goes on to its other steps and tells where it was stuck.
    A step that ended cancelled has ended; one that raised raises here. If the caller is
    cancelled, so is the step.
    """
    timeout = STEP_TIMEOUT if timeout is None else timeout
    task = asyncio.ensure_future(step)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        log.error(
            "%s: not done within %g s, left behind; the tasks still running:\n%s",
            name,
            timeout,
            running_tasks(),
        )
        task.cancel()
        return False
    if not task.cancelled():
        task.result()
    return True


def running_tasks() -> str:
    """Every task of the running loop but the caller, each with the chain of awaits it is
    suspended in, innermost last (`Task.get_stack` shows only the outermost coroutine)."""
    current = asyncio.current_task()
    return "\n".join(
        f"{task.get_name()}:\n{_awaits(task.get_coro())}"
        for task in asyncio.all_tasks()
        if task is not current
    )


def _awaits(awaitable: Any) -> str:
    lines = []
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is None:
            lines.append(f"  awaiting {awaitable!r}")
            break
        code = frame.f_code
        lines.append(f"  {code.co_filename}:{frame.f_lineno} in {code.co_name}")
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
    return "\n".join(lines)
