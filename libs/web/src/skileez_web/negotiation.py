"""Browsers get pages and redirects; API clients get JSON."""

from __future__ import annotations

from aiohttp import web

JSON = "application/json"
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
FORMS = (URLENCODED, MULTIPART)
"""The media types of a browser form's body."""


def wants_html(request: web.Request) -> bool:
    """True for a browser navigation or form post (it asks for text/html before JSON)."""
    accept = request.headers.get("Accept", "")
    if "text/html" not in accept:
        return False
    return "application/json" not in accept or accept.index("text/html") < accept.index(
        "application/json"
    )


def is_form(request: web.Request) -> bool:
    return request.content_type in FORMS
