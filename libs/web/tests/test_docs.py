"""`GET /docs`: an OpenAPI document rendered as a page, nothing fetched from elsewhere."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from enum import StrEnum
from html.parser import HTMLParser
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel, Field

from skileez_web.docs import DOCS_PAGE, docs_api, docs_page
from skileez_web.openapi import HTML, Api


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class PaintIn(BaseModel):
    """Paint to mix; `colour` is one of the <b>known</b> ones."""

    colour: Colour
    litres: int = Field(ge=1, le=20, description="how much, in `litres`")
    note: str | None = Field(default=None, max_length=200)


class PaintOut(BaseModel):
    id: str
    shades: list[Colour]
    stock: dict[str, int]


class PaintQuery(BaseModel):
    limit: int = Field(default=10, ge=1, le=50)


api = Api("Paint shop")


@api.operation(
    "POST",
    "/shops/{shop_id}/paints",
    summary="Mix a paint <script>alert(1)</script>",
    body=PaintIn,
    responses={201: PaintOut, 404: None, 422: None},
)
async def mix(_request: web.Request) -> web.Response:
    raise NotImplementedError


@api.operation(
    "GET",
    "/shops/{shop_id}/paints",
    summary="The paints of a shop",
    query=PaintQuery,
    responses={200: PaintOut, 303: "redirect"},
)
async def paints(_request: web.Request) -> web.Response:
    raise NotImplementedError


@api.operation("GET", "/health/live", summary="Liveness", responses={200: HTML}, auth=False)
async def live(_request: web.Request) -> web.Response:
    raise NotImplementedError


class Page(HTMLParser):
    """The page's element ids, links and the tags of anything it would load."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.loads: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if element_id := attributes.get("id"):
            self.ids.add(element_id)
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"] or "")
        if tag in {"script", "img", "iframe", "link", "object", "embed"} or "src" in attributes:
            self.loads.append(tag)


@pytest.fixture
def spec() -> dict[str, Any]:
    return api.spec(docs_api)


@pytest.fixture
async def client(spec: dict[str, Any]) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """`/docs` as `skileez_web.app.service_app` serves it, for the test API."""
    app = web.Application()
    app[DOCS_PAGE] = docs_page(spec)
    app.add_routes(docs_api.routes)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_the_page_lists_every_operation_its_parameters_body_and_answers(
    client: TestClient, spec: dict[str, Any]
) -> None:
    response = await client.get("/docs")
    assert response.status == 200
    assert response.content_type == "text/html"
    text = await response.text()
    page = Page(text)
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            assert operation["operationId"] in page.ids
            assert f"#{operation['operationId']}" in page.links
            assert html.escape(operation["summary"], quote=False) in text
            assert path in text, (method, path)
    mix_section = section(text, "post_shops_shop_id_paints")
    for expected in (
        "shop_id",
        "path",
        "Request body: <code>application/json</code>",
        "Paint to mix; <code>colour</code> is one of the &lt;b&gt;known&lt;/b&gt; ones.",
        '<a href="#schema-PaintIn">PaintIn</a>',
        "<code>litres</code>",
        "at least 1; at most 20",
        "how much, in <code>litres</code>",
        "string | null",
        "at most 200 characters",
        "201",
        '<a href="#schema-PaintOut">PaintOut</a>',
        "404",
        "Not Found",
        '<a href="#schema-Problem">Problem</a>',
    ):
        assert expected in mix_section, expected
    listing = section(text, "get_shops_shop_id_paints")
    assert "limit" in listing
    assert "default 10" in listing
    assert "See Other" in listing
    assert 'array of <a href="#schema-Colour">Colour</a>' in text
    assert "object of string to integer" in text
    assert '<code>"red"</code>, <code>"blue"</code>' in html.unescape(
        section(text, "schema-Colour")
    )


async def test_every_link_on_the_page_leads_somewhere_on_this_service(client: TestClient) -> None:
    page = Page(await (await client.get("/docs")).text())
    for link in page.links:
        assert link.startswith("#") or link == "/openapi.json", link
        if link.startswith("#"):
            assert link[1:] in page.ids, link


async def test_the_page_runs_no_script_and_loads_nothing(client: TestClient) -> None:
    response = await client.get("/docs")
    text = await response.text()
    assert Page(text).loads == []
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;b&gt;known&lt;/b&gt;" in text
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy


async def test_the_page_is_described_in_the_openapi_document_as_html(
    spec: dict[str, Any],
) -> None:
    docs = spec["paths"]["/docs"]["get"]
    assert docs["security"] == []
    assert docs["responses"]["200"]["content"] == {"text/html": {"schema": {"type": "string"}}}


def section(text: str, element_id: str) -> str:
    """The HTML of the element with `element_id`, up to the next operation or schema."""
    start = text.index(f'id="{element_id}"')
    ends = [
        index
        for marker in ('class="operation"', 'class="schema"')
        if (index := text.find(marker, start + 1)) != -1
    ]
    return text[start : min(ends, default=len(text))]
