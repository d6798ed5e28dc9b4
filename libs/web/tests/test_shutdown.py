"""A service's shutdown ends even when one of its loops will not stop, and says where it hangs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from skileez_web import shutdown
from skileez_web.app import background
from skileez_web.shutdown import within


async def _shut_down(
    run: Callable[[], Coroutine[Any, Any, None]],
    drain: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> list[str]:
    """Start and stop an app whose loop is `run`; return the steps cleaned up after it."""
    later_steps: list[str] = []

    async def earlier_resource(_app: web.Application) -> AsyncIterator[None]:
        yield
        later_steps.append("closed")  # its cleanup runs after the loop's

    app = web.Application()
    app.cleanup_ctx.append(earlier_resource)
    app.cleanup_ctx.append(background("test loop", run, drain))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    await asyncio.wait_for(server.close(), timeout=30)
    return later_steps


async def test_a_loop_that_will_not_stop_is_left_behind_and_its_await_is_logged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutdown, "STEP_TIMEOUT", 0.5)
    release = asyncio.Event()

    async def stubborn_loop() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # swallows every cancellation

    try:
        with caplog.at_level(logging.INFO, logger="skileez_web"):
            assert await _shut_down(stubborn_loop) == ["closed"]
    finally:
        release.set()

    [record] = caplog.records  # and no "test loop stopped"
    assert record.levelno == logging.ERROR
    message = record.getMessage()
    assert message.startswith("stopping the test loop: not done within 0.5 s, left behind")
    assert "in stubborn_loop" in message
    assert "locks.py" in message  # down to the Event it waits on


async def test_a_drain_that_fails_still_stops_its_loop() -> None:
    stopped = asyncio.Event()

    async def loop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    async def failing_drain() -> None:
        raise RuntimeError("drain failed")

    with pytest.raises(RuntimeError, match="drain failed"):
        await _shut_down(loop, failing_drain)
    assert stopped.is_set()


async def test_a_step_that_ends_in_time_raises_its_error() -> None:
    async def fails() -> None:
        raise RuntimeError("pool close failed")

    with pytest.raises(RuntimeError, match="pool close failed"):
        await within("closing", fails(), timeout=1)


async def test_a_cancelled_step_has_ended() -> None:
    task = asyncio.create_task(asyncio.Event().wait())  # a step that never ends by itself
    task.cancel()
    assert await within("stopping", task, timeout=1)


async def test_cancelling_the_wait_cancels_the_step() -> None:
    running, cancelled = asyncio.Event(), asyncio.Event()

    async def step() -> None:
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    waiting = asyncio.create_task(within("closing", step(), timeout=30))
    await asyncio.wait_for(running.wait(), timeout=5)  # `within` is waiting for it
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.wait_for(cancelled.wait(), timeout=5)
