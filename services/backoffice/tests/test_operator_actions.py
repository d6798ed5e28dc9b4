"""The operator actions on fakes: the owning service is called with the operator's own token,
and every outcome, a refusal and an outage included, is recorded with who, what and why."""

from __future__ import annotations

from skileez_backoffice.domain.audit import Action, ActionKind
from skileez_backoffice.service_layer.operator_actions import (
    Operator,
    refund_payment,
    replay_dead_letter,
    review_held_payment,
)
from skileez_backoffice.service_layer.services import Answer

from .fakes import FakeAuditLog, FakeServices

EVA = Operator("admin-1", "Admin Eva", "the-operators-own-token")


async def test_a_review_goes_to_payments_with_the_operators_token_and_is_recorded() -> None:
    services, audit = FakeServices(), FakeAuditLog()
    done = await review_held_payment(EVA, "p-1", "refund", "paid twice", services, audit.record)
    assert services.calls == [("review", "p-1", "refund", "paid twice", "the-operators-own-token")]
    assert audit.entries == [
        Action("admin-1", "Admin Eva", ActionKind.REVIEW_REFUND, "p-1", "paid twice", "200", True)
    ]
    assert (done.entry_id, done.succeeded) == (1, True)


async def test_a_refusal_is_recorded_as_not_done_with_the_services_reason() -> None:
    refused = Answer(409, {"code": "not_refundable", "detail": "Nothing is left to refund."})
    services, audit = FakeServices(answer=refused), FakeAuditLog()
    done = await refund_payment(EVA, "p-1", 4500, None, "asked", "key-1", services, audit.record)
    assert services.calls == [("refund", "p-1", 4500, None, "key-1", "the-operators-own-token")]
    assert (done.succeeded, done.outcome) == (
        False,
        "409 not_refundable: Nothing is left to refund.",
    )
    assert audit.entries[0].kind is ActionKind.REFUND


async def test_an_outage_is_recorded_naming_the_service() -> None:
    services, audit = FakeServices(down=True), FakeAuditLog()
    done = await replay_dead_letter(EVA, "contracts", "m-1", "fixed", services, audit.record)
    assert (done.succeeded, done.outcome) == (
        False,
        "contracts cannot be reached: ClientConnectorError",
    )
    assert audit.entries[0].subject == "contracts/m-1"
    assert audit.entries[0].kind is ActionKind.DEAD_LETTER_REPLAY
