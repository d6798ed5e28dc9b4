"""`/proposals`: coaches propose, students answer; every refusal is problem+json."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from skileez_contracts.adapters.tables import proposals

PROPOSAL = {
    "student_id": "student-1",
    "title": "Ten sessions of chess",
    "session_count": 10,
    "price_per_session": 5_000,
    "currency": "EUR",
}


async def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json()
    assert body["code"] == code
    assert {"type", "title", "status", "detail", "code"} <= body.keys()
    return body


async def proposal_count(service: Any) -> int:
    return int(await service.scalar(select(func.count()).select_from(proposals)))


async def test_a_coach_proposes_and_the_price_is_theirs(service: Any) -> None:
    response = await service.client.post("/proposals", json=PROPOSAL, headers=service.coach())
    assert response.status == 201
    offer = await response.json()
    assert response.headers["Location"] == f"/proposals/{offer['id']}"
    assert offer["coach_id"] == "coach-1"
    assert offer["status"] == "open"
    assert offer["currency"] == "eur"
    assert offer["amount"] == 50_000
    assert offer["description"] == ""


async def test_both_parties_see_a_proposal_and_a_stranger_does_not(service: Any) -> None:
    offer = await service.propose()
    for headers in (service.coach(), service.student()):
        response = await service.client.get(f"/proposals/{offer['id']}", headers=headers)
        assert response.status == 200
        assert (await response.json())["id"] == offer["id"]
    for headers in (service.coach("coach-2"), service.student("student-2")):
        response = await service.client.get(f"/proposals/{offer['id']}", headers=headers)
        await problem(response, 403, "not_a_party")


@pytest.mark.parametrize("path", [f"/proposals/{uuid.uuid4()}", "/proposals/not-a-uuid"])
async def test_an_unknown_proposal_is_not_found(service: Any, path: str) -> None:
    response = await service.client.get(path, headers=service.coach())
    await problem(response, 404, "proposal_not_found")
    response = await service.client.post(f"{path}/accept", headers=service.student())
    await problem(response, 404, "proposal_not_found")


async def test_a_student_cannot_make_a_proposal(service: Any) -> None:
    response = await service.client.post("/proposals", json=PROPOSAL, headers=service.student())
    await problem(response, 403, "forbidden")
    assert await proposal_count(service) == 0


async def test_no_token_is_refused(service: Any) -> None:
    response = await service.client.post("/proposals", json=PROPOSAL)
    await problem(response, 401, "unauthenticated")
    assert await proposal_count(service) == 0


@pytest.mark.parametrize(
    "kind", ["expired", "forged", "alg_none", "no_exp", "hs512", "unknown_role", "garbage"]
)
async def test_a_bad_token_is_refused(service: Any, bad_tokens: dict[str, str], kind: str) -> None:
    headers = {"Authorization": f"Bearer {bad_tokens[kind]}"}
    response = await service.client.post("/proposals", json=PROPOSAL, headers=headers)
    await problem(response, 401, "invalid_token")
    response = await service.client.get("/contracts", cookies={"skileez_token": bad_tokens[kind]})
    await problem(response, 401, "invalid_token")
    assert await proposal_count(service) == 0


async def test_malformed_json_is_a_400(service: Any) -> None:
    response = await service.client.post(
        "/proposals",
        data=b'{"title": ',
        headers={**service.coach(), "Content-Type": "application/json"},
    )
    await problem(response, 400, "malformed_json")


@pytest.mark.parametrize(
    "change",
    [
        {"session_count": 0},
        {"session_count": 1001},
        {"session_count": "10"},
        {"session_count": True},
        {"price_per_session": 0},
        {"price_per_session": -5},
        {"price_per_session": 12.5},
        {"currency": "euro"},
        {"currency": "€€€"},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": "nul\x00byte"},
        {"student_id": ""},
        {"description": "d" * 5001},
        {"amount": 1},
    ],
)
async def test_invalid_fields_are_a_422_and_change_nothing(
    service: Any, change: dict[str, Any]
) -> None:
    response = await service.client.post(
        "/proposals", json={**PROPOSAL, **change}, headers=service.coach()
    )
    body = await problem(response, 422, "validation_error")
    assert body["errors"]
    assert await proposal_count(service) == 0


async def test_a_total_past_the_payable_maximum_is_refused(service: Any) -> None:
    response = await service.client.post(
        "/proposals",
        json={**PROPOSAL, "session_count": 1000, "price_per_session": 99_999_999_999},
        headers=service.coach(),
    )
    await problem(response, 422, "amount_too_large")
    assert await proposal_count(service) == 0


@pytest.mark.parametrize(
    ("change", "code", "fields"),
    [
        ({"currency": "XYZ"}, "unsupported_currency", {"currency": "xyz"}),
        ({"currency": "btc"}, "unsupported_currency", {"currency": "btc"}),
        ({"session_count": 1, "price_per_session": 49}, "amount_too_small", {"minimum": 50}),
        (
            {"currency": "jpy", "session_count": 2, "price_per_session": 24},
            "amount_too_small",
            {"minimum": 50},
        ),
        ({"price_per_session": 10_000_000}, "amount_too_large", {"maximum": 99_999_999}),
        (
            {"currency": "kwd", "session_count": 4, "price_per_session": 1_255},
            "amount_too_precise",
            {"currency": "kwd", "step": 10},
        ),
    ],
)
async def test_a_price_stripe_would_not_charge_is_a_422_and_changes_nothing(
    service: Any, change: dict[str, Any], code: str, fields: dict[str, Any]
) -> None:
    response = await service.client.post(
        "/proposals", json={**PROPOSAL, **change}, headers=service.coach()
    )
    body = await problem(response, 422, code)
    assert fields.items() <= body.items()
    assert "Stripe" in body["detail"]
    assert await proposal_count(service) == 0


async def test_a_refusal_says_what_stripe_would_take(service: Any) -> None:
    response = await service.client.post(
        "/proposals",
        json={**PROPOSAL, "currency": "kwd", "price_per_session": 1_255},
        headers=service.coach(),
    )
    body = await problem(response, 422, "amount_too_precise")
    assert "use 1.250 KWD or 1.260 KWD" in body["detail"]
    response = await service.client.post(
        "/proposals",
        json={**PROPOSAL, "currency": "gbp", "session_count": 1, "price_per_session": 29},
        headers=service.coach(),
    )
    body = await problem(response, 422, "amount_too_small")
    assert "£0.29" in body["detail"]
    assert "£0.30" in body["detail"]


@pytest.mark.parametrize(
    ("currency", "price", "amount"), [("JPY", 5_000, 50_000), ("kwd", 1_250, 12_500)]
)
async def test_a_coach_proposes_in_yen_or_dinars(
    service: Any, currency: str, price: int, amount: int
) -> None:
    response = await service.client.post(
        "/proposals",
        json={**PROPOSAL, "currency": currency, "price_per_session": price},
        headers=service.coach(),
    )
    assert response.status == 201, await response.text()
    offer = await response.json()
    assert (offer["amount"], offer["currency"]) == (amount, currency.lower())
    contract = await service.contract(currency=currency, price_per_session=price)
    assert (contract["amount"], contract["currency"]) == (amount, currency.lower())


async def test_a_coach_cannot_propose_to_themselves(service: Any) -> None:
    response = await service.client.post(
        "/proposals", json={**PROPOSAL, "student_id": "coach-1"}, headers=service.coach()
    )
    await problem(response, 422, "self_proposal")


async def test_only_its_student_answers_a_proposal(service: Any) -> None:
    offer = await service.propose()
    path = f"/proposals/{offer['id']}/accept"
    await problem(await service.client.post(path, headers=service.coach()), 403, "forbidden")
    await problem(
        await service.client.post(path, headers=service.student("student-2")), 403, "not_a_party"
    )
    response = await service.client.get(f"/proposals/{offer['id']}", headers=service.coach())
    assert (await response.json())["status"] == "open"


async def test_an_answered_proposal_cannot_be_answered_again(service: Any) -> None:
    offer = await service.propose()
    accept = f"/proposals/{offer['id']}/accept"
    decline = f"/proposals/{offer['id']}/decline"
    response = await service.client.post(accept, headers=service.student())
    assert response.status == 200
    accepted = await response.json()
    assert accepted["status"] == "accepted"
    assert accepted["decided_at"] is not None
    await problem(
        await service.client.post(accept, headers=service.student()), 409, "proposal_not_open"
    )
    await problem(
        await service.client.post(decline, headers=service.student()), 409, "proposal_not_open"
    )


async def test_a_declined_proposal_stays_declined(service: Any) -> None:
    offer = await service.propose()
    response = await service.client.post(
        f"/proposals/{offer['id']}/decline", headers=service.student()
    )
    assert (await response.json())["status"] == "declined"
    response = await service.client.post(
        f"/proposals/{offer['id']}/accept", headers=service.student()
    )
    await problem(response, 409, "proposal_not_open")


async def test_a_browser_accepting_by_form_is_sent_back_to_the_proposal(service: Any) -> None:
    offer = await service.propose()
    response = await service.client.post(
        f"/proposals/{offer['id']}/accept",
        data={},
        cookies={"skileez_token": service.token("student-1", "student")},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == f"/proposals/{offer['id']}"


async def test_the_proposal_list_holds_the_callers_proposals_only(service: Any) -> None:
    first = await service.propose()
    second = await service.propose(student_id="student-2")
    await service.propose(coach="coach-2", student_id="student-3")

    async def listed(headers: dict[str, str], query: str = "") -> list[str]:
        response = await service.client.get(f"/proposals{query}", headers=headers)
        assert response.status == 200
        return [p["id"] for p in (await response.json())["items"]]

    assert await listed(service.coach()) == [second["id"], first["id"]]
    assert await listed(service.coach(), "?limit=1") == [second["id"]]
    assert await listed(service.student()) == [first["id"]]
    assert await listed(service.student("nobody")) == []
    await problem(await service.client.get("/proposals"), 401, "unauthenticated")
    response = await service.client.get("/proposals?limit=0", headers=service.coach())
    await problem(response, 422, "validation_error")
