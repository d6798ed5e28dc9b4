"""The few pages `skileez_web` itself shows (the sign-in confirmation, its refusals), in the
look of the services' own pages and self-contained: no CDN, no service template needed."""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

from skileez_web.problems import Problem

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("skileez_web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render(template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    body = _templates.get_template(template).render(**context)
    response = web.Response(text=body, status=status, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def refusal_page(problem: Problem) -> web.Response:
    """A refusal as a page for a browser, with the status and code of its problem+json."""
    return render("refused.html", {"problem": problem}, status=problem.status)
