"""`/contracts`: the student takes the contract of an accepted proposal; only its parties see it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from skileez_contracts.adapters.tables import contracts
from skileez_events import CloudEvent, ContractCreated, event_type_of
from skileez_events.testing import tap, wait_until

PAYMENTS_URL = "http://payments.test"


async def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json()
    assert body["code"] == code
    return body


async def create(service: Any, proposal_id: str, headers: dict[str, str]) -> Any:
    return await service.client.post(
        "/contracts", json={"proposal_id": proposal_id}, headers=headers
    )


async def test_the_student_creates_a_pending_contract_priced_by_the_proposal(
    service: Any,
) -> None:
    offer = await service.accepted_proposal(session_count=4, price_per_session=2_500)
    async with tap(service.amqp_url, service.names) as published:
        response = await create(service, offer["id"], service.student())
        assert response.status == 201
        contract = await response.json()
        await wait_until(lambda: published)
    assert response.headers["Location"] == f"/contracts/{contract['id']}"
    assert contract["payment_url"] == f"{PAYMENTS_URL}/contracts/{contract['id']}/pay"
    assert contract["amount"] == 10_000
    assert (contract["status"], contract["payment_status"]) == ("pending", "pending")
    assert contract["payment_date"] is None
    assert contract["activated_at"] is None
    assert set(contract) == {
        "id", "proposal_id", "student_id", "coach_id", "title", "session_count", "amount",
        "currency", "status", "payment_status", "payment_date", "stripe_payment_intent_id",
        "created_at", "activated_at", "payment_url", "student_name", "coach_name",
        "payment_processing_since", "amount_refunded", "cancelled_at", "cancelled_by",
        "cancelled_by_role", "cancellation_reason", "refund_amount", "cancellation_refunded",
    }  # fmt: skip

    [message] = published
    assert message.type == event_type_of(ContractCreated)
    assert message.routing_key == event_type_of(ContractCreated)
    envelope = CloudEvent.from_json(message.body)
    assert envelope.subject == contract["id"]
    event = ContractCreated.model_validate(envelope.data)
    assert str(event.contract_id) == contract["id"]
    assert str(event.proposal_id) == offer["id"]
    assert (event.student_id, event.coach_id) == ("student-1", "coach-1")
    assert (event.amount, event.currency, event.session_count) == (10_000, "eur", 4)
    assert await service.all_sent()


async def test_the_price_never_comes_from_the_student(service: Any) -> None:
    offer = await service.accepted_proposal()
    response = await service.client.post(
        "/contracts",
        json={"proposal_id": offer["id"], "amount": 1, "price_per_session": 1},
        headers=service.student(),
    )
    await problem(response, 422, "validation_error")
    assert await service.count(contracts) == 0
    created = await (await create(service, offer["id"], service.student())).json()
    assert created["amount"] == offer["amount"] == 50_000


async def test_a_second_contract_for_one_proposal_is_a_409(service: Any) -> None:
    offer = await service.accepted_proposal()
    first = await (await create(service, offer["id"], service.student())).json()
    body = await problem(
        await create(service, offer["id"], service.student()), 409, "contract_exists"
    )
    assert body["contract_id"] == first["id"]
    assert await service.count(contracts) == 1
    assert len(await service.outbox_events(event_type_of(ContractCreated))) == 1


async def test_concurrent_creations_from_one_proposal_give_one_contract(service: Any) -> None:
    offer = await service.accepted_proposal()
    responses = await asyncio.gather(
        *(create(service, offer["id"], service.student()) for _ in range(10))
    )
    assert sorted(r.status for r in responses) == [201] + [409] * 9
    assert await service.count(contracts) == 1
    assert len(await service.outbox_events(event_type_of(ContractCreated))) == 1


async def test_a_contract_needs_an_accepted_proposal(service: Any) -> None:
    offer = await service.propose()
    await problem(
        await create(service, offer["id"], service.student()), 409, "proposal_not_accepted"
    )
    await service.client.post(f"/proposals/{offer['id']}/decline", headers=service.student())
    await problem(
        await create(service, offer["id"], service.student()), 409, "proposal_not_accepted"
    )
    await problem(
        await create(service, str(uuid.uuid4()), service.student()), 404, "proposal_not_found"
    )
    assert await service.count(contracts) == 0


async def test_only_the_proposals_student_creates_its_contract(service: Any) -> None:
    offer = await service.accepted_proposal()
    await problem(await create(service, offer["id"], service.coach()), 403, "forbidden")
    await problem(
        await create(service, offer["id"], service.student("student-2")), 403, "not_a_party"
    )
    await problem(
        await create(service, offer["id"], service.as_user("admin-1", "admin")), 403, "forbidden"
    )
    assert await service.count(contracts) == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"proposal_id": ', 400, "malformed_json"),
        (b"{}", 422, "validation_error"),
        (b'{"proposal_id": "not-a-uuid"}', 422, "validation_error"),
        (b"[]", 422, "validation_error"),
    ],
)
async def test_bad_bodies_are_refused(service: Any, body: bytes, status: int, code: str) -> None:
    response = await service.client.post(
        "/contracts",
        data=body,
        headers={**service.student(), "Content-Type": "application/json"},
    )
    await problem(response, status, code)


async def test_a_browser_creating_a_contract_is_sent_to_the_payment_page(service: Any) -> None:
    offer = await service.accepted_proposal()
    response = await service.client.post(
        "/contracts",
        data={"proposal_id": offer["id"]},
        cookies={"skileez_token": service.token("student-1", "student")},
        headers={"Accept": "text/html"},
        allow_redirects=False,
    )
    assert response.status == 303
    [contract] = (await (await service.client.get("/contracts", headers=service.student())).json())[
        "items"
    ]
    assert response.headers["Location"] == f"{PAYMENTS_URL}/contracts/{contract['id']}/pay"


async def test_only_the_parties_see_a_contract(service: Any) -> None:
    contract = await service.contract()
    path = f"/contracts/{contract['id']}"
    for headers in (service.student(), service.coach()):
        response = await service.client.get(path, headers=headers)
        assert response.status == 200
        assert await response.json() == contract
    for headers in (
        service.student("student-2"),
        service.coach("coach-2"),
        service.as_user("admin-1", "admin"),
    ):
        await problem(await service.client.get(path, headers=headers), 403, "not_a_party")
    await problem(await service.client.get(path), 401, "unauthenticated")
    await problem(
        await service.client.get(f"/contracts/{uuid.uuid4()}", headers=service.student()),
        404,
        "contract_not_found",
    )
    await problem(
        await service.client.get("/contracts/12", headers=service.student()),
        404,
        "contract_not_found",
    )


async def test_the_contract_list_holds_the_callers_contracts_only(service: Any) -> None:
    mine = await service.contract()
    other = await service.contract(student_id="student-2")
    theirs = await service.contract(coach="coach-2", student_id="student-3")

    async def listed(headers: dict[str, str], query: str = "") -> list[str]:
        response = await service.client.get(f"/contracts{query}", headers=headers)
        assert response.status == 200
        return [c["id"] for c in (await response.json())["items"]]

    assert await listed(service.student()) == [mine["id"]]
    assert await listed(service.coach()) == [other["id"], mine["id"]]
    assert await listed(service.coach(), "?limit=1&offset=1") == [mine["id"]]
    assert await listed(service.student("student-3")) == [theirs["id"]]
    assert await listed(service.student("nobody")) == []
    for query in ("?limit=0", "?limit=101", "?offset=-1", "?limit=x", "?page=2"):
        response = await service.client.get(f"/contracts{query}", headers=service.student())
        await problem(response, 422, "validation_error")


async def test_browsers_get_a_contract_page_with_a_pay_button_while_pending(
    service: Any,
) -> None:
    contract = await service.contract()
    cookies = {"skileez_token": service.token("student-1", "student")}
    response = await service.client.get(
        f"/contracts/{contract['id']}", cookies=cookies, headers={"Accept": "text/html"}
    )
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    assert 'id="status">pending</span>' in page
    assert 'id="payment-status">pending</span>' in page
    assert f'href="{contract["payment_url"]}"' in page
    assert "Pay €500.00" in page
    assert "Next steps" not in page

    coach_page = await (
        await service.client.get(
            f"/contracts/{contract['id']}",
            cookies={"skileez_token": service.token("coach-1", "coach")},
            headers={"Accept": "text/html"},
        )
    ).text()
    assert "Pay €500.00" not in coach_page
    assert "Waiting for student-1's payment" in coach_page


async def test_html_escapes_what_users_typed(service: Any) -> None:
    contract = await service.contract(title="<script>alert(1)</script>")
    response = await service.client.get(
        f"/contracts/{contract['id']}",
        cookies={"skileez_token": service.token("student-1", "student")},
        headers={"Accept": "text/html"},
    )
    page = await response.text()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


async def test_contract_created_carries_the_requests_correlation_id(service: Any) -> None:
    offer = await service.accepted_proposal()
    response = await service.client.post(
        "/contracts",
        json={"proposal_id": offer["id"]},
        headers={**service.student(), "X-Correlation-Id": "checkout-flow-42"},
    )
    assert response.status == 201
    [created] = await service.outbox_events(event_type_of(ContractCreated))
    assert created.correlationid == "checkout-flow-42"
    assert created.causationid is None
