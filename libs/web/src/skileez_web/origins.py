"""The system's own origins: which cookie-borne requests may change something, and what a
public https URL implies for the cookie (`Secure`) and for browsers (HSTS)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web
from yarl import URL

from skileez_web.auth import bearer_token
from skileez_web.problems import Handler, Problem

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HSTS = "max-age=31536000"
"""One year; without `includeSubDomains`, which would bind hosts this system does not own."""


@dataclass(frozen=True)
class Origins:
    """This service's public URL and the origins of every service of the system, whose pages
    post forms to one another."""

    public_url: str
    own: frozenset[str]

    @classmethod
    def of(cls, public_url: str, system_urls: Iterable[str]) -> Origins:
        own = frozenset(origin_of(url) for url in (public_url, *system_urls))
        return cls(public_url.rstrip("/"), own)

    @property
    def https(self) -> bool:
        """Whether browsers reach this service over https (then its cookie is `Secure`)."""
        return URL(self.public_url).scheme == "https"

    def refuses(self, request: web.Request) -> bool:
        """Whether `request` changes something on a browser's credentials from another site.

        A request with a Bearer token carries its own credentials and is never refused. Else an
        unsafe one is refused when the browser says it comes from another site
        (`Sec-Fetch-Site: cross-site`) or when its `Origin` is not one of the system's. A
        request with neither header (curl, Stripe's webhooks) is not a browser's and passes.
        """
        if request.method not in UNSAFE_METHODS or bearer_token(request) is not None:
            return False
        if request.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
            return True
        origin = request.headers.get("Origin")
        return origin is not None and origin.strip().lower().rstrip("/") not in self.own


ORIGINS = web.AppKey("origins", Origins)


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, as a browser writes it in `Origin`."""
    return str(URL(url).origin()).lower()


def cross_site_refusal() -> Problem:
    return Problem(
        403,
        "cross_site_request",
        "This request came from a page outside Skileez, so it was not carried out. Go back"
        " to the Skileez page and try again from there.",
    )


@web.middleware
async def origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """403 `cross_site_request` for an unsafe request from another site's page (login CSRF
    and CSRF on cookie-authenticated forms); a page for a browser (`problem_middleware`)."""
    if request.app[ORIGINS].refuses(request):
        raise cross_site_refusal()
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer: no page of another site may frame ours (a framed sign-in or payment form
    would post with our own Origin: clickjacking); on an https service, stay on https."""
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    if request.app[ORIGINS].https:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
