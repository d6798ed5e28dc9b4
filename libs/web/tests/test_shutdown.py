"""A service's shutdown ends even when one of its loops will not stop, and says where it hangs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from skileez_web import shutdown
from skileez_web.app import background
from skileez_web.shutdown import within


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

    later_steps_ran = []

    async def earlier_resource(_app: web.Application) -> AsyncIterator[None]:
        yield
        later_steps_ran.append(True)  # cleaned up after the loop's context

    app = web.Application()
    app.cleanup_ctx.append(earlier_resource)
    app.cleanup_ctx.append(background("stubborn loop", stubborn_loop))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    with caplog.at_level(logging.ERROR, logger="skileez_web.shutdown"):
        await asyncio.wait_for(server.close(), timeout=30)

    assert later_steps_ran == [True]
    [record] = caplog.records
    message = record.getMessage()
    assert message.startswith("stopping the stubborn loop: not done within 0.5 s")
    assert "in stubborn_loop" in message
    assert "locks.py" in message  # down to the Event it waits on
    release.set()


async def test_a_step_that_ends_in_time_raises_its_error() -> None:
    async def fails() -> None:
        raise RuntimeError("pool close failed")

    with pytest.raises(RuntimeError, match="pool close failed"):
        await within("closing", fails(), timeout=1)


async def test_a_cancelled_step_counts_as_stopped() -> None:
    task = asyncio.create_task(asyncio.sleep(60))
    task.cancel()
    await within("stopping", task, timeout=1)
    assert task.cancelled()
