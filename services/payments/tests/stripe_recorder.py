"""A recording proxy in front of the Stripe emulator: every request payments makes to Stripe,
forwarded over HTTP unchanged and written down, so a test can prove a request made none."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

NOT_FORWARDED = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}
"""Per-hop headers, set again by each side of the proxy."""

EVENTS_API = "/v1/events"
"""Read by reconciliation on its own timer, never because of a request."""


@dataclass
class StripeRecorder:
    url: str = ""
    requests: list[str] = field(default_factory=list)
    """`METHOD /path` of each request, in the order received."""

    @property
    def on_demand(self) -> list[str]:
        """The requests made for a caller, reconciliation's reads left out."""
        return [seen for seen in self.requests if not seen.endswith(EVENTS_API)]


@asynccontextmanager
async def recording_stripe(target: str) -> AsyncIterator[StripeRecorder]:
    """A proxy to `target` (the emulator's base URL) on a free loopback port."""
    recorder = StripeRecorder()
    async with aiohttp.ClientSession(auto_decompress=True) as http:

        async def forward(request: web.Request) -> web.Response:
            recorder.requests.append(f"{request.method} {request.path}")
            async with http.request(
                request.method,
                f"{target}{request.path_qs}",
                data=await request.read(),
                headers=_forwarded(request.headers),
                allow_redirects=False,
            ) as answer:
                return web.Response(
                    status=answer.status,
                    body=await answer.read(),
                    headers=_forwarded(answer.headers),
                )

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        recorder.url = f"http://{host}:{port}"
        try:
            yield recorder
        finally:
            await runner.cleanup()


def _forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() not in NOT_FORWARDED}
