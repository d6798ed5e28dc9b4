"""Route: `/`, where a person starts: their contracts when signed in, else how to sign in."""

from __future__ import annotations

from aiohttp import web

from skileez_contracts.entrypoints.resources import api
from skileez_web.openapi import HTML, REDIRECT
from skileez_web.pages import render_page, viewer


@api.operation(
    "GET",
    "/",
    summary="HTML page: sends a signed-in person to their contracts (303), else explains how"
    " to sign in",
    responses={200: HTML, 303: REDIRECT},
    auth=False,
)
async def home(request: web.Request) -> web.Response:
    if viewer(request) is not None:
        raise web.HTTPSeeOther("/contracts")
    return render_page(request, "home.html", {})
