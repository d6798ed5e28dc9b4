"""The pages a browser reaches on contracts: home, proposals (a coach's form, a student's
answer), contracts, notifications; names instead of ids, from the tokens to the events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skileez_contracts.adapters.tables import proposals
from skileez_events import CloudEvent, ContractCreated, event_type_of

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
ANA, RUI = "Ana Silva", "Coach Rui"


def cookie(service: Any, user_id: str, role: str, name: str | None) -> dict[str, str]:
    return {"skileez_token": service.token(user_id, role, name=name)}


async def browse(service: Any, path: str, who: dict[str, str], **options: Any) -> Any:
    return await service.client.get(path, headers=BROWSER, cookies=who, **options)


async def post_form(service: Any, path: str, form: dict[str, str], who: dict[str, str]) -> Any:
    return await service.client.post(
        path, data=form, headers=BROWSER, cookies=who, allow_redirects=False
    )


OFFER = {
    "student_id": "student-1",
    "title": "Interview coaching",
    "description": "Mock interviews\nand feedback",
    "session_count": "4",
    "price_per_session": "45.00",
    "currency": "eur",
}


async def test_home_sends_a_signed_in_person_to_their_contracts_else_says_how_to_sign_in(
    service: Any,
) -> None:
    signed_in = await browse(
        service, "/", cookie(service, "student-1", "student", ANA), allow_redirects=False
    )
    assert (signed_in.status, signed_in.headers["Location"]) == (303, "/contracts")
    stranger = await browse(service, "/", {})
    assert stranger.status == 200
    assert "How to sign in" in await stranger.text()


async def test_the_coach_proposes_from_the_form_and_the_student_answers_on_its_page(
    service: Any,
) -> None:
    coach = cookie(service, "coach-1", "coach", RUI)
    student = cookie(service, "student-1", "student", ANA)
    form = await browse(service, "/proposals/new", coach)
    assert form.status == 200
    assert '<label for="price_per_session">' in await form.text()
    assert (await browse(service, "/proposals/new", student)).status == 403

    made = await post_form(service, "/proposals", OFFER, coach)
    assert made.status == 303
    page_path = made.headers["Location"]
    proposal = await (await service.client.get(page_path, headers=service.coach())).json()
    assert (proposal["price_per_session"], proposal["amount"]) == (4_500, 18_000)
    assert (proposal["coach_name"], proposal["student_name"]) == (RUI, None)

    listing = await (await browse(service, "/proposals", student)).text()
    assert "From Coach Rui" in listing
    assert "€180.00" in listing
    seen = await (await browse(service, page_path, student)).text()
    assert "Accept the proposal" in seen
    assert "Mock interviews\nand feedback" in seen

    accepted = await post_form(service, f"{page_path}/accept", {}, student)
    assert (accepted.status, accepted.headers["Location"]) == (303, page_path)
    seen = await (await browse(service, page_path, student)).text()
    assert "Take the contract and pay" in seen
    coach_view = await (await browse(service, page_path, coach)).text()
    assert f"{ANA} accepted" in coach_view

    taken = await post_form(service, "/contracts", {"proposal_id": proposal["id"]}, student)
    assert taken.status == 303
    [created] = await service.outbox_events(event_type_of(ContractCreated))
    data = ContractCreated.model_validate(created.data)
    assert (data.student_name, data.coach_name) == (ANA, RUI)
    assert "See the contract" in await (await browse(service, page_path, student)).text()


async def test_a_refused_form_comes_back_with_the_error_beside_the_field_and_values_kept(
    service: Any,
) -> None:
    coach = cookie(service, "coach-1", "coach", RUI)
    typo = await post_form(service, "/proposals", {**OFFER, "price_per_session": "45,00"}, coach)
    assert (typo.status, typo.content_type) == (422, "text/html")
    html = await typo.text()
    assert 'id="price_per_session-error">Enter a price per session, e.g. 45.00.' in html
    assert 'aria-invalid="true"' in html
    assert 'value="45,00"' in html
    assert 'value="Interview coaching"' in html

    too_fine = await post_form(
        service, "/proposals", {**OFFER, "price_per_session": "45.001"}, coach
    )
    assert "Prices in EUR are written with 2 decimals at most." in await too_fine.text()

    too_small = await post_form(
        service, "/proposals", {**OFFER, "price_per_session": "0.10"}, coach
    )
    assert too_small.status == 422
    assert 'id="price_per_session-error">' in await too_small.text()

    to_self = await post_form(service, "/proposals", {**OFFER, "student_id": "coach-1"}, coach)
    assert 'id="student_id-error">' in await to_self.text()
    assert await service.count(proposals) == 0


async def test_lists_and_the_contract_page_show_names_and_what_to_do_next(service: Any) -> None:
    offer = await service.propose()
    await service.client.post(
        f"/proposals/{offer['id']}/accept", headers=service.as_user("student-1", "student", ANA)
    )
    response = await service.client.post(
        "/contracts",
        json={"proposal_id": offer["id"]},
        headers=service.as_user("student-1", "student", ANA),
    )
    contract = await response.json()
    student = cookie(service, "student-1", "student", ANA)
    listing = await (await browse(service, "/contracts", student)).text()
    assert "Ten sessions of chess" in listing
    assert f'href="/contracts/{contract["id"]}"' in listing
    page = await (await browse(service, f"/contracts/{contract['id']}", student)).text()
    assert f"<dd>{ANA}</dd>" in page
    assert "processing" in page  # a bank debit on its way is explained
    assert "Signed in as <strong>Ana Silva</strong> (student)" in page
    assert (await service.client.get("/contracts", headers=service.student())).content_type == (
        "application/json"
    )


async def test_a_browser_never_gets_json_from_a_refusal(service: Any) -> None:
    student = cookie(service, "student-2", "student", None)
    contract = await service.contract()
    for path, status in [
        (f"/contracts/{contract['id']}", 403),
        ("/contracts/00000000-0000-0000-0000-000000000000", 404),
        ("/proposals/nope", 404),
    ]:
        page = await browse(service, path, student)
        assert (page.status, page.content_type) == (status, "text/html"), path
        assert "Back to your contracts" in await page.text()
    unsigned = await browse(service, "/contracts", {})
    assert (unsigned.status, unsigned.content_type) == (401, "text/html")
    expired = await browse(
        service, "/contracts", {"skileez_token": service.token("student-1", "student", ttl=-10)}
    )
    assert (expired.status, expired.content_type) == (401, "text/html")
    assert "Sign in again" in await expired.text()


async def test_the_coach_reads_who_paid_and_the_page_marks_notifications_read(
    service: Any, payment_succeeded: Callable[..., CloudEvent]
) -> None:
    offer = await service.propose(
        title="Interview coaching", session_count=4, price_per_session=4_500
    )
    ana = service.as_user("student-1", "student", ANA)
    await service.client.post(f"/proposals/{offer['id']}/accept", headers=ana)
    contract = await (
        await service.client.post("/contracts", json={"proposal_id": offer["id"]}, headers=ana)
    ).json()
    await service.deliver(payment_succeeded(contract))

    [note] = (await (await service.client.get("/notifications", headers=service.coach())).json())[
        "items"
    ]
    assert note["message"] == "Ana Silva paid €180.00 for Interview coaching (4 sessions)"
    assert note["read_at"] is None

    coach = cookie(service, "coach-1", "coach", RUI)
    first = await (await browse(service, "/notifications", coach)).text()
    assert "1 new since you last looked" in first
    assert "Ana Silva paid €180.00 for Interview coaching (4 sessions)" in first
    assert '<li class="unread">' in first
    again = await (await browse(service, "/notifications", coach)).text()
    assert "Nothing new since you last looked" in again
    assert '<li class="unread">' not in again
    [read] = (await (await service.client.get("/notifications", headers=service.coach())).json())[
        "items"
    ]
    assert read["read_at"] is not None
