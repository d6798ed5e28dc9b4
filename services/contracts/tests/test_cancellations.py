"""Cancellations on real PostgreSQL and RabbitMQ: the sessions scheduling reports, the quote,
the cancellation by each side with ContractCancelled in the same commit, both parties told,
and the pages (the button, the confirmation with the quote, the contract once ended)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from skileez_contracts.adapters.tables import contract_sessions
from skileez_events import (
    CloudEvent,
    ContractCancelled,
    SessionBooked,
    SessionCancelled,
    event_type_of,
    new_event,
)

from .test_pages import ANA, BROWSER, RUI, browse, cookie, post_form

CANCELLED = event_type_of(ContractCancelled)


def session_event(
    kind: type[SessionBooked] | type[SessionCancelled],
    contract: dict[str, Any],
    starts_in: timedelta,
    session_id: uuid.UUID | None = None,
) -> CloudEvent:
    data = kind(
        session_id=session_id or uuid.uuid4(),
        contract_id=contract["id"],
        starts_at=datetime.now(UTC) + starts_in,
        duration_minutes=60,
        by="coach-1",
        at=datetime.now(UTC),
    )
    return new_event(data, subject=contract["id"])


async def paid_contract_with_sessions(
    service: Any, payment_succeeded: Callable[..., CloudEvent]
) -> dict[str, Any]:
    """10 sessions at 50.00 EUR, paid; booked: one held yesterday, one in 3 hours, one in 3
    days, and one in 2 hours that was cancelled (its cancellation delivered first)."""
    contract = await service.contract()
    await service.deliver(payment_succeeded(contract))
    gone = uuid.uuid4()
    await service.deliver(
        session_event(SessionBooked, contract, timedelta(days=-1)),
        session_event(SessionBooked, contract, timedelta(hours=3)),
        session_event(SessionBooked, contract, timedelta(days=3)),
        session_event(SessionCancelled, contract, timedelta(hours=2), gone),
        session_event(SessionBooked, contract, timedelta(hours=2), gone),
    )
    return contract


async def quote(service: Any, contract: dict[str, Any], headers: dict[str, str]) -> Any:
    return await service.client.get(
        f"/contracts/{contract['id']}/cancellation-quote", headers=headers
    )


async def cancel(
    service: Any, contract: dict[str, Any], headers: dict[str, str], reason: str = "Moving"
) -> Any:
    return await service.client.post(
        f"/contracts/{contract['id']}/cancel", json={"reason": reason}, headers=headers
    )


async def cancelled_events(service: Any) -> list[ContractCancelled]:
    return [
        ContractCancelled.model_validate(e.data) for e in await service.outbox_events(CANCELLED)
    ]


async def test_session_news_applies_once_in_any_order_and_a_cancellation_stays(
    service: Any,
) -> None:
    contract = await service.contract()
    late = uuid.uuid4()
    cancelled_first = session_event(SessionCancelled, contract, timedelta(days=1), late)
    booked_after = session_event(SessionBooked, contract, timedelta(days=1), late)
    kept = session_event(SessionBooked, contract, timedelta(days=2))
    for event in (cancelled_first, booked_after, kept):
        await service.publish(event, copies=3)
        await service.settle(event)
    assert await service.count(contract_sessions) == 2
    still_cancelled = await service.scalar(
        contract_sessions.select()
        .with_only_columns(contract_sessions.c.cancelled_at)
        .where(contract_sessions.c.id == late)
    )
    assert still_cancelled is not None


async def test_the_student_is_quoted_and_refunded_the_sessions_not_delivered(
    service: Any, payment_succeeded: Callable[..., CloudEvent]
) -> None:
    contract = await paid_contract_with_sessions(service, payment_succeeded)
    student = await quote(service, contract, service.student())
    assert student.status == 200, await student.text()
    assert await student.json() == {
        "refund_amount": 40_000,
        "currency": "eur",
        "sessions_delivered": 2,
        "sessions_refunded": 8,
        "price_per_session": 5_000,
        "sessions_held": 1,
        "sessions_within_notice": 1,
        "notice_hours": 24.0,
        "cancelled_by_role": "student",
        "paid": True,
        "already_refunded": 0,
    }
    coach = await (await quote(service, contract, service.coach())).json()
    assert (coach["sessions_delivered"], coach["refund_amount"]) == (1, 45_000)

    done = await cancel(service, contract, service.student(), "Moving abroad")
    assert done.status == 200, await done.text()
    body = await done.json()
    assert (body["status"], body["refund_amount"], body["cancelled_by"]) == (
        "cancelled",
        40_000,
        "student-1",
    )
    assert (body["cancelled_by_role"], body["cancellation_reason"]) == ("student", "Moving abroad")
    [published] = await cancelled_events(service)
    assert (published.refund_amount, published.cancelled_by, published.reason) == (
        40_000,
        "student-1",
        "Moving abroad",
    )
    assert str(published.payment_id) == (await service.outbox_events())[1].data["payment_id"]
    for user, role in (("coach-1", "coach"), ("student-1", "student")):
        response = await service.client.get("/notifications", headers=service.as_user(user, role))
        [note] = [n for n in (await response.json())["items"] if n["kind"] == "contract_cancelled"]
        assert note["amount"] == 40_000
        assert "€400.00 goes back to student-1" in note["message"]

    again = await cancel(service, contract, service.coach())
    assert (again.status, (await again.json())["code"]) == (409, "contract_cancelled")
    assert len(await cancelled_events(service)) == 1


async def test_the_coach_refunds_every_session_not_held(
    service: Any, payment_succeeded: Callable[..., CloudEvent]
) -> None:
    contract = await paid_contract_with_sessions(service, payment_succeeded)
    done = await cancel(service, contract, service.coach(), "Cannot coach any more")
    assert done.status == 200, await done.text()
    assert (await done.json())["refund_amount"] == 45_000
    [published] = await cancelled_events(service)
    assert (published.refund_amount, published.cancelled_by) == (45_000, "coach-1")


async def test_an_admin_cancels_like_the_coach_and_strangers_cannot(
    service: Any, payment_succeeded: Callable[..., CloudEvent]
) -> None:
    contract = await paid_contract_with_sessions(service, payment_succeeded)
    stranger = await cancel(service, contract, service.student("student-2"))
    assert (stranger.status, (await stranger.json())["code"]) == (403, "not_a_party")
    unknown = await service.client.post(
        f"/contracts/{uuid.uuid4()}/cancel", json={"reason": "x"}, headers=service.coach()
    )
    assert unknown.status == 404
    blank = await cancel(service, contract, service.coach(), "   ")
    assert (blank.status, (await blank.json())["code"]) == (422, "validation_error")
    admin = service.as_user("admin-1", "admin")
    assert (await (await quote(service, contract, admin)).json())["refund_amount"] == 45_000
    done = await cancel(service, contract, admin, "Coach account closed")
    assert (done.status, (await done.json())["cancelled_by_role"]) == (200, "admin")
    assert [e.refund_amount for e in await cancelled_events(service)] == [45_000]


async def test_a_pending_contract_is_withdrawn_by_either_side_for_nothing(
    service: Any,
) -> None:
    contract = await service.contract()
    assert (await (await quote(service, contract, service.student())).json())["paid"] is False
    done = await cancel(service, contract, service.coach(), "Changed my plans")
    assert done.status == 200, await done.text()
    assert ((await done.json())["status"], (await done.json())["refund_amount"]) == (
        "cancelled",
        0,
    )
    [published] = await cancelled_events(service)
    assert (published.refund_amount, published.payment_id) == (0, None)


async def test_a_disputed_or_processing_contract_cannot_be_ended_yet(
    service: Any,
    payment_succeeded: Callable[..., CloudEvent],
    payment_disputed: Callable[..., CloudEvent],
    payment_processing: Callable[..., CloudEvent],
) -> None:
    disputed = await service.contract()
    paid = payment_succeeded(disputed)
    await service.deliver(paid, payment_disputed(disputed, paid.data["payment_id"]))
    refused = await cancel(service, disputed, service.student())
    assert (refused.status, (await refused.json())["code"]) == (409, "contract_disputed")
    waiting = await service.contract(title="Bank debit")
    await service.deliver(payment_processing(waiting))
    refused = await cancel(service, waiting, service.student())
    assert (refused.status, (await refused.json())["code"]) == (409, "payment_in_progress")
    assert await cancelled_events(service) == []


async def test_the_refund_shows_on_the_contract_once_payments_reports_it(
    service: Any,
    payment_succeeded: Callable[..., CloudEvent],
    payment_refunded: Callable[..., CloudEvent],
) -> None:
    contract = await paid_contract_with_sessions(service, payment_succeeded)
    paid_by = (await service.outbox_events())[1].data["payment_id"]
    await cancel(service, contract, service.student(), "Moving abroad")
    page = await service.page(contract["id"])
    assert "€400.00" in page
    assert "on its way" in page
    await service.deliver(
        payment_refunded(
            contract,
            payment_id=paid_by,
            refund_amount=40_000,
            total_refunded=40_000,
            fully_refunded=False,
        )
    )
    body = await service.get_contract(contract["id"])
    assert (body["amount_refunded"], body["cancellation_refunded"]) == (40_000, 40_000)
    page = await service.page(contract["id"])
    assert 'id="refund-status">refunded' in page


async def test_the_cancel_button_the_confirmation_and_the_ended_contract_pages(
    service: Any, payment_succeeded: Callable[..., CloudEvent]
) -> None:
    contract = await paid_contract_with_sessions(service, payment_succeeded)
    ana = cookie(service, "student-1", "student", ANA)
    page = await (await browse(service, f"/contracts/{contract['id']}", ana)).text()
    assert f'href="/contracts/{contract["id"]}/cancellation-quote"' in page
    confirm = await browse(service, f"/contracts/{contract['id']}/cancellation-quote", ana)
    assert (confirm.status, confirm.content_type) == (200, "text/html")
    text = await confirm.text()
    assert "€400.00" in text
    assert "2 of 10" in text
    assert "8 \u00d7 €50.00" in text
    assert f'action="/contracts/{contract["id"]}/cancel"' in text

    empty = await post_form(service, f"/contracts/{contract['id']}/cancel", {"reason": ""}, ana)
    assert (empty.status, empty.content_type) == (422, "text/html")
    assert "say why below" in await empty.text()
    foreign = await service.client.post(
        f"/contracts/{contract['id']}/cancel",
        data={"reason": "x"},
        headers={**BROWSER, "Origin": "https://evil.example"},
        cookies=ana,
        allow_redirects=False,
    )
    assert foreign.status == 403
    assert await cancelled_events(service) == []

    done = await post_form(
        service, f"/contracts/{contract['id']}/cancel", {"reason": "Moving abroad"}, ana
    )
    assert (done.status, done.headers["Location"]) == (303, f"/contracts/{contract['id']}")
    rui = cookie(service, "coach-1", "coach", RUI)
    ended = await (await browse(service, f"/contracts/{contract['id']}", rui)).text()
    assert "by student-1</h2>" in ended
    assert "Moving abroad" in ended
    assert "€400.00" in ended
    assert "cancellation-quote" not in ended
    closed = await browse(service, f"/contracts/{contract['id']}/cancellation-quote", rui)
    assert (closed.status, closed.content_type) == (409, "text/html")
