"""The one look of every service's pages: the shared templates (`skileez/base.html`, the
error page), the stylesheet every service serves, and rendering with who is signed in.

A service's templates extend `skileez/base.html` (its blocks and classes are listed at its
top): `setup_templates(app, package)` makes them find it, and `render_page` gives them the
header's `viewer`, `links` and `stylesheet`. A browser's refusal, from any route of any
service, is `problem_page`, the same page everywhere (wired by `skileez_web.app`).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from skileez_web.auth import TOKEN_RULES, Principal, authenticate
from skileez_web.correlation import correlation_id
from skileez_web.money import format_amount
from skileez_web.openapi import CSS, Api
from skileez_web.problems import Problem
from skileez_web.settings import Links

SHARED_TEMPLATES = jinja2.PrefixLoader(
    {"skileez": jinja2.PackageLoader("skileez_web", "templates")}
)
"""The shared templates, named `skileez/...` in every service's environment."""

STYLESHEET = resources.files("skileez_web").joinpath("static/skileez.css").read_bytes()
STYLESHEET_PATH = "/static/skileez.css"
STYLESHEET_URL = f"{STYLESHEET_PATH}?v={hashlib.sha256(STYLESHEET).hexdigest()[:12]}"
"""What pages link to: versioned by content, so a browser may keep it for a day yet never
shows a page with the last release's stylesheet."""

LINKS = web.AppKey("links", Links)


def _equip(env: jinja2.Environment) -> None:
    """What every environment of the look has: the `money` filter (an amount in minor units
    and its currency as people read it)."""
    env.filters["money"] = format_amount


_shared = jinja2.Environment(
    loader=SHARED_TEMPLATES, autoescape=True, undefined=jinja2.StrictUndefined
)
"""The shared templates alone: the error page and the sign-in page of a service with no
templates of its own."""
_equip(_shared)


def setup_templates(app: web.Application, package: str, folder: str = "templates") -> None:
    """The service's templates (`folder` of `package`) and the shared ones, for `render_page`
    (and aiohttp_jinja2's `render_template`)."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader(package, folder), SHARED_TEMPLATES]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    _equip(env)


def viewer(request: web.Request) -> Principal | None:
    """Who the request is signed in as, for the header; None when no valid token came."""
    try:
        return authenticate(request, request.app[TOKEN_RULES])
    except Problem:
        return None


def page_context(request: web.Request) -> dict[str, Any]:
    """What `skileez/base.html` shows on every page: who is signed in and where to go."""
    return {
        "viewer": viewer(request),
        "links": request.app.get(LINKS),
        "stylesheet": STYLESHEET_URL,
    }


def render_page(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    """`template` of the service's environment (`setup_templates`) as a page, not cached."""
    env = request.app.get(aiohttp_jinja2.APP_KEY, _shared)
    body = env.get_template(template).render(**page_context(request), **context)
    response = web.Response(text=body, status=status, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


HEADINGS = {
    401: "Please sign in",
    403: "This is not yours to see or do",
    404: "We cannot find this page",
    405: "This page cannot be used that way",
    409: "This cannot be done now",
    413: "That was too much to send",
    415: "This page cannot read what was sent",
    422: "Some of what was sent is not right",
    429: "Please wait a moment",
}
"""The heading of a refusal's page by status; another 4xx is "That did not work"."""

CODE_HEADINGS = {
    "invalid_sign_in_code": "This sign-in link does not work any more",
    "cross_site_request": "This request came from another site",
    "already_paid": "This contract is already paid",
    "contract_not_found": "We cannot find this contract",
    "proposal_not_found": "We cannot find this proposal",
    "session_not_found": "We cannot find this payment",
}
"""Headings of the refusals people meet most, by their stable code (any service's)."""

CODE_ADVICE = {
    "invalid_sign_in_code": "A sign-in link works once, for a few minutes. Ask for a new one"
    " where you got this one.",
    "already_paid": "There is nothing more to pay. Thank you!",
    "session_not_found": "If you have just paid, your contract's payment page shows the payment"
    " as soon as Stripe confirms it: there is no need to pay again.",
}
"""What to do next, for the refusals where the status alone does not say it."""

CODE_WORDS = {
    "unauthenticated": "You are not signed in on this page.",
    "invalid_token": "Your sign-in is no longer valid: it has expired or was changed.",
}
"""What a person is told instead of the problem's `detail`, where that is written for
programs (a JWT library's "Signature has expired.")."""


def problem_page(request: web.Request, problem: Problem) -> web.Response:
    """A refusal as the page a browser shows, with its problem+json's status and headers:
    what happened in words and a way forward (sign in again, back to your contracts)."""
    if problem.status >= 500:
        heading = "Sorry, something went wrong on our side"
    else:
        heading = CODE_HEADINGS.get(problem.code) or HEADINGS.get(
            problem.status, "That did not work"
        )
    context = {
        "problem": problem,
        "heading": heading,
        "said": CODE_WORDS.get(problem.code, problem.detail),
        "advice": CODE_ADVICE.get(problem.code),
        "reference": correlation_id(request) if problem.status >= 500 else None,
    }
    response = render_page(request, "skileez/problem.html", context, status=problem.status)
    response.headers.update(problem.headers)
    return response


pages_api = Api("pages")


@pages_api.operation(
    "GET",
    STYLESHEET_PATH,
    summary="The stylesheet of every page: cacheable for a day, 304 when the browser has it",
    responses={200: CSS, 304: None},
    auth=False,
)
async def stylesheet(request: web.Request) -> web.Response:
    etag = f'"{STYLESHEET_URL.rsplit("=", 1)[1]}"'
    headers = {"Cache-Control": "public, max-age=86400", "ETag": etag}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=STYLESHEET, content_type="text/css", charset="utf-8", headers=headers)
