"""Each service fuzzed from its own `/openapi.json` (schemathesis), as its student, its coach and
an admin, against the running system: no answer is a 5xx, and every status code, content type,
header and body is one the document declares.

Bounded for CI: a fixed number of examples per operation, derandomized (every run makes the
same choices, so a failure found once is found again), no example database. The world's ids are
offered beside made-up ones, so requests reach the rules behind the lookups.
"""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any
from urllib.parse import urlencode

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from skileez_web.auth import Role, mint_token
from skileez_web.problems import PROBLEM_JSON

from .world import World

EXAMPLES_PER_OPERATION = 120
REPORTED_CHARACTERS = 3_000
HTTP_LINE_LIMIT = 8_000
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

ID_OF_SEGMENT = {
    "contracts": "contract",
    "proposals": "proposal",
    "payments": "payment",
    "sessions": "session",
}


def kind_of(name: str, path: str) -> str | None:
    """Which of the world's ids a parameter or field names: `{id}` after `/contracts` is a
    contract, `proposal_id` a proposal, `student_id` a user."""
    if name == "id":
        segments = re.findall(r"/(\w[\w-]*)/\{id\}", path)
        return ID_OF_SEGMENT.get(segments[-1]) if segments else None
    if name in ("student_id", "coach_id"):
        return "user"
    return name.removesuffix("_id") if name.endswith("_id") else None


def one_of(known: list[str]) -> dict[str, Any]:
    """Valid values: the world's ids and two that name nothing; invalid ones: anything else.
    (An `anyOf` with the declared string would not do: the fuzzer folds the enum into it.)"""
    return {"type": "string", "enum": [*known, "nothing", str(uuid.UUID(int=0))]}


def with_known_ids(document: dict[str, Any], ids: dict[str, list[str]]) -> dict[str, Any]:
    """The document, each id in a path or a request body taking the world's ids of its kind
    (response schemas stay as served: they are what is checked)."""
    components = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                known = ids.get(kind_of(parameter["name"], path) or "")
                if known and parameter["in"] == "path":
                    parameter["schema"] = one_of(known)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                model = copy.deepcopy(components[content["schema"]["$ref"].rsplit("/", 1)[1]])
                for name in model.get("properties", {}):
                    if known := ids.get(kind_of(name, "") or ""):
                        model["properties"][name] = one_of(known)
                content["schema"] = model
    return document


def fuzzing(world: World, service: str, role: Role) -> schemathesis.BaseSchema:
    """The service's own document, with the world's ids offered, sent as `role`'s party."""
    base_url = world.system.url(service)
    document = requests.get(f"{base_url}/openapi.json", timeout=10).json()
    config = schemathesis.Config.from_dict(
        {
            "base-url": base_url,
            "headers": {"Authorization": f"Bearer {world.caller(role).token}"},
        }
    )
    return schemathesis.openapi.from_dict(with_known_ids(document, world.ids), config=config)


def failures_of(operation: schemathesis.APIOperation) -> str | None:
    """Fuzz one operation, valid and invalid requests alike; what its checks found, if anything."""
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(case=cases)
    def fuzz(case: schemathesis.Case) -> None:
        hypothesis.assume(within_http_limits(case))
        case.call_and_validate(checks=CHECKS, allow_redirects=False, timeout=30)

    try:
        fuzz()
    except (Exception, BaseExceptionGroup) as failure:  # a check's failure, or several at once
        return f"{operation.label}:\n{str(failure)[:REPORTED_CHARACTERS]}"
    return None


def within_http_limits(case: schemathesis.Case) -> bool:
    """Whether the request line and each header fit aiohttp's 8 KiB: longer ones are refused by
    its HTTP parser with a plain 400 before any route runs, which is not the API's answer."""
    target = case.formatted_path + "?" + urlencode(case.query or {}, doseq=True)
    headers = [f"{name}: {value}" for name, value in (case.headers or {}).items()]
    return all(len(line.encode()) < HTTP_LINE_LIMIT for line in [target, *headers])


@pytest.mark.parametrize("service", ["contracts", "payments", "scheduling", "backoffice"])
def test_every_answer_conforms_to_the_document(world: World, service: str, role: Role) -> None:
    schema = fuzzing(world, service, role)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    failures = [found for operation in operations if (found := failures_of(operation))]
    assert not failures, "\n\n".join(failures)


MALFORMED = [
    # (content type, body, the answer when the operation takes that media type)
    ("multipart/form-data", b"proposal_id=1", 400),
    ("multipart/form-data; boundary=b0und", b"garbage", 400),
    ("application/x-www-form-urlencoded", b"proposal_id=%zz", 400),
    ("application/json", b'{"proposal_id": ', 400),
    ("application/json", b"[" * 2_000_000, 413),
    ("application/json; charset=latin-1", b"{}", 415),
    ("text/plain", b"{}", 415),
    (None, b"{}", 415),
]


@pytest.mark.parametrize("service", ["contracts", "payments", "scheduling"])
@pytest.mark.parametrize(
    ("content_type", "body", "taken"),
    MALFORMED,
    ids=[f"{content_type}-{answer}" for content_type, _, answer in MALFORMED],
)
def test_a_malformed_or_unsupported_body_is_a_4xx_problem(
    world: World, service: str, content_type: str | None, body: bytes, taken: int
) -> None:
    """Each operation that reads a body, sent one it cannot read: 400 (malformed), 413 (too
    large) or 415 (a media type it does not take), never a 5xx, and always declared. A caller
    the route refuses before reading (403) may get that instead, so one of them must be let in;
    each is new, so no rate limit spent by the fuzzing answers first."""
    base_url = world.system.url(service)
    document = requests.get(f"{base_url}/openapi.json", timeout=10).json()
    media_type = (content_type or "").split(";")[0]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if "requestBody" not in operation:
                continue
            expected = taken if media_type in operation["requestBody"]["content"] else 415
            if content_type and "charset" in content_type:
                expected = 415
            url = base_url + re.sub(r"\{(\w+)\}", lambda m, p=path: an_id(world, m[1], p), path)
            answers = set()
            for role in Role:
                token = mint_token(world.system.config.jwt_secret, f"{role}-{uuid.uuid4()}", role)
                headers = {"Authorization": f"Bearer {token}"}
                if content_type is not None:
                    headers["Content-Type"] = content_type
                response = requests.request(
                    method, url, data=body, headers=headers, timeout=30, allow_redirects=False
                )
                label = f"{method.upper()} {path} as {role} with {content_type}"
                assert str(response.status_code) in operation["responses"], (label, response.text)
                assert response.headers["Content-Type"].startswith(PROBLEM_JSON), label
                answers.add(response.status_code)
            assert expected in answers, (method, path, content_type, answers)


def an_id(world: World, name: str, path: str) -> str:
    """A path parameter as the world's first id of its kind."""
    return world.ids[kind_of(name, path) or ""][0]
