"""Request bodies: a route reads only the media types it declares, and a malformed body of one of
them is a 400 problem, never a 500, through a real aiohttp server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel, Field

from skileez_web.negotiation import is_form
from skileez_web.openapi import Api
from skileez_web.problems import PROBLEM_JSON, parse_form, parse_json, problem_middleware


class Greeting(BaseModel):
    name: str = Field(min_length=1)


class Reply(BaseModel):
    text: str


api = Api("bodies")


@api.operation("POST", "/greet", summary="JSON only", body=Greeting, responses={200: Reply})
async def greet(request: web.Request) -> web.Response:
    greeting = await parse_json(request, Greeting)
    return web.json_response({"text": f"hello {greeting.name}"})


@api.operation(
    "POST", "/sign", summary="JSON or a form", body=Greeting, form=Greeting, responses={200: Reply}
)
async def sign(request: web.Request) -> web.Response:
    greeting = await (parse_form if is_form(request) else parse_json)(request, Greeting)
    return web.json_response({"text": f"signed {greeting.name}"})


@api.operation("POST", "/ping", summary="No body", responses={200: Reply})
async def ping(_request: web.Request) -> web.Response:
    return web.json_response({"text": "pong"})


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application(middlewares=[problem_middleware])
    app.add_routes(api.routes)
    spec = api.spec()

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(spec)

    app.router.add_get("/openapi.json", openapi)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def multipart(*parts: bytes, boundary: bytes = b"xyz") -> bytes:
    return b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts) + (
        b"--" + boundary + b"--\r\n"
    )


NAME_PART = b'Content-Disposition: form-data; name="name"\r\n\r\nAnn'


async def answer(
    client: TestClient, path: str, content_type: str | None, body: bytes
) -> tuple[int, str, str]:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = await client.post(path, data=body, headers=headers)
    if response.content_type == PROBLEM_JSON:
        return response.status, response.content_type, (await response.json())["code"]
    return response.status, response.content_type, (await response.json())["text"]


@pytest.mark.parametrize(
    ("content_type", "body", "code"),
    [
        ("multipart/form-data", b"name=Ann", "malformed_form"),
        ("multipart/form-data; boundary=xyz", b"garbage", "malformed_form"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\n" + NAME_PART, "malformed_form"),
        ("multipart/form-data; boundary=" + "a" * 80, multipart(NAME_PART), "malformed_form"),
        (
            "multipart/form-data; boundary=xyz",
            multipart(b'Content-Disposition: form-data; name="name"\r\n\r\n\xff\xfe'),
            "malformed_form",
        ),
        (
            "multipart/form-data; boundary=xyz",
            multipart(
                NAME_PART.replace(b"\r\n\r\n", b"\r\nContent-Type: text/plain; charset=no\r\n\r\n")
            ),
            "malformed_form",
        ),
        (
            "multipart/form-data; boundary=xyz",
            multipart(NAME_PART.replace(b"\r\n\r\n", b"\r\nContent-Transfer-Encoding: no\r\n\r\n")),
            "malformed_form",
        ),
        (
            "multipart/form-data; boundary=xyz",
            multipart(b'Content-Disposition: form-data; name="\x1b"\r\n\r\nAnn'),
            "malformed_form",
        ),
        ("application/x-www-form-urlencoded", b"name=%zz", "malformed_form"),
        ("application/x-www-form-urlencoded", b"name=Ann%", "malformed_form"),
        ("application/x-www-form-urlencoded", b"name=%ff%fe", "malformed_form"),
        ("application/x-www-form-urlencoded", "name=Zoë".encode(), "malformed_form"),
        ("application/json", b"{nope", "malformed_json"),
        ("application/json", b'{"name": "\xff"}', "malformed_json"),
        ("application/json", b"", "malformed_json"),
    ],
)
async def test_a_malformed_body_is_a_400_problem(
    client: TestClient, content_type: str, body: bytes, code: str
) -> None:
    assert await answer(client, "/sign", content_type, body) == (400, PROBLEM_JSON, code)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"[]"),
        ("application/json", b'"Ann"'),
        ("application/json", b'{"name": ""}'),
        ("application/x-www-form-urlencoded", b"name="),
        ("multipart/form-data; boundary=xyz", multipart(NAME_PART.replace(b"Ann", b""))),
    ],
)
async def test_a_well_formed_body_of_invalid_fields_is_a_422_problem(
    client: TestClient, content_type: str, body: bytes
) -> None:
    status, _, code = await answer(client, "/sign", content_type, body)
    assert (status, code) == (422, "validation_error")


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/greet", "application/x-www-form-urlencoded"),
        ("/greet", "multipart/form-data; boundary=xyz"),
        ("/greet", "text/plain"),
        ("/greet", None),
        ("/greet", "application/json; charset=latin-1"),
        ("/greet", "application/json; charset=no-such-charset"),
        ("/sign", "text/plain"),
        ("/sign", "application/x-www-form-urlencoded; charset=no-such-charset"),
        ("/sign", "multipart/form-data; boundary=xyz; charset=latin-1"),
    ],
)
async def test_a_body_of_a_media_type_the_route_does_not_take_is_a_415_problem(
    client: TestClient, path: str, content_type: str | None
) -> None:
    response = await client.post(
        path,
        data=b'{"name": "Ann"}',
        headers={} if content_type is None else {"Content-Type": content_type},
    )
    assert response.status == 415
    assert response.content_type == PROBLEM_JSON
    assert (await response.json())["code"] == "unsupported_media_type"


async def test_each_media_type_a_route_declares_is_read(client: TestClient) -> None:
    json_utf8 = "application/json; charset=UTF-8"
    assert await answer(client, "/greet", json_utf8, '{"name": "Zoë"}'.encode()) == (
        200,
        "application/json",
        "hello Zoë",
    )
    urlencoded = "application/x-www-form-urlencoded"
    assert (await answer(client, "/sign", urlencoded, b"name=Zo%C3%AB+A&name=Ann"))[2] == (
        "signed Ann"
    )
    assert (await answer(client, "/sign", urlencoded, b"x=1&name=Zo%C3%AB+A"))[2] == "signed Zoë A"
    formdata = "multipart/form-data; boundary=xyz"
    assert (await answer(client, "/sign", formdata, multipart(NAME_PART)))[2] == "signed Ann"
    # A route that reads no body ignores what it is sent.
    assert (await answer(client, "/ping", "text/plain", b"anything"))[2] == "pong"


async def test_a_body_over_the_size_limit_is_a_413_problem(client: TestClient) -> None:
    response = await client.post(
        "/greet", data=b"[" + b"0," * 600_000 + b"0]", headers={"Content-Type": "application/json"}
    )
    assert response.status == 413
    assert response.content_type == PROBLEM_JSON


async def test_the_document_lists_the_media_types_read_and_the_body_refusals(
    client: TestClient,
) -> None:
    spec = await (await client.get("/openapi.json")).json()
    sign_spec = spec["paths"]["/sign"]["post"]
    assert set(sign_spec["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
    assert set(spec["paths"]["/greet"]["post"]["requestBody"]["content"]) == {"application/json"}
    assert {"400", "413", "415", "422"} <= set(sign_spec["responses"])
    ping_spec = spec["paths"]["/ping"]["post"]
    assert "requestBody" not in ping_spec
    assert "415" not in ping_spec["responses"]
