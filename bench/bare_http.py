"""The bare aiohttp ceiling: one process, uvloop, a JSON handler that does nothing else.

Started as `python -m bench.bare_http <port>`, the way the services run (`web.run_app`,
uvloop, no access log), and loaded by the same load generator as the services.
"""

from __future__ import annotations

import sys

import uvloop
from aiohttp import web


async def answer(_request: web.Request) -> web.Response:
    return web.json_response({"id": "8f0e1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b", "status": "active"})


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"received": True})


def main() -> None:
    app = web.Application()
    app.router.add_get("/json", answer)
    app.router.add_post("/json", accept)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
