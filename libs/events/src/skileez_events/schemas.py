"""The event catalogue: one typed `data` model per event type, and the registry from type to model.

`data` models ignore unknown fields, so adding a field is not a breaking change; a breaking
change is a new `.v2` type with its own model.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Currency = Annotated[str, Field(pattern=r"^[a-z]{3}$")]
"""Lowercase ISO 4217 code, e.g. `eur`, `jpy`."""

MAX_AMOUNT = 99_999_999_999
"""The largest amount an event may carry."""
MinorUnits = Annotated[int, Field(ge=0, le=MAX_AMOUNT)]
"""Money in the currency's minor unit as Stripe counts it (none for zero-decimal currencies)."""
PersonName = Annotated[str, Field(min_length=1, max_length=200)]
"""A person's display name, as the `name` claim of their token gave it."""


class EventData(BaseModel):
    """Base of every event payload. Subclasses name their producer and versioned type."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    producer: ClassVar[str]
    name: ClassVar[str]
    version: ClassVar[int] = 1


class ContractCreated(EventData):
    producer = "contracts"
    name = "ContractCreated"

    contract_id: UUID
    proposal_id: UUID
    student_id: str
    coach_id: str
    title: str
    session_count: int = Field(ge=1)
    amount: MinorUnits
    currency: Currency
    created_at: AwareDatetime
    student_name: PersonName | None = None
    """The student's display name when their token carried one (for pages and Stripe)."""
    coach_name: PersonName | None = None
    """The coach's display name when their token carried one."""


class ContractActivated(EventData):
    producer = "contracts"
    name = "ContractActivated"

    contract_id: UUID
    student_id: str
    coach_id: str
    session_count: int = Field(ge=1)
    amount: MinorUnits
    currency: Currency
    payment_id: UUID
    activated_at: AwareDatetime


class ContractPaymentFailed(EventData):
    producer = "contracts"
    name = "ContractPaymentFailed"

    contract_id: UUID
    payment_id: UUID
    reason: str
    failed_at: AwareDatetime


class ContractCancelled(EventData):
    producer = "contracts"
    name = "ContractCancelled"

    contract_id: UUID
    reason: str
    cancelled_at: AwareDatetime
    cancelled_by: str = "system"
    """A user id, or `system` when a payment's outcome (a full refund, a lost dispute) ended it."""
    refund_amount: MinorUnits = 0
    """What payments must refund; 0 when nothing is owed back."""
    payment_id: UUID | None = None
    """The payment that paid the contract, as contracts counts it; None when none did (a pending
    contract withdrawn): any other payment that took money for it is owed back whole."""


class ContractSuspended(EventData):
    producer = "contracts"
    name = "ContractSuspended"

    contract_id: UUID
    reason: str
    suspended_at: AwareDatetime


class ContractReinstated(EventData):
    producer = "contracts"
    name = "ContractReinstated"

    contract_id: UUID
    reinstated_at: AwareDatetime


class PaymentSucceeded(EventData):
    producer = "payments"
    name = "PaymentSucceeded"

    payment_id: UUID
    contract_id: UUID
    amount: MinorUnits
    currency: Currency
    stripe_checkout_session_id: str
    stripe_payment_intent_id: str
    paid_at: AwareDatetime


class PaymentFailed(EventData):
    producer = "payments"
    name = "PaymentFailed"

    payment_id: UUID
    contract_id: UUID
    reason: str
    stripe_checkout_session_id: str
    failed_at: AwareDatetime


class PaymentRefunded(EventData):
    producer = "payments"
    name = "PaymentRefunded"

    payment_id: UUID
    contract_id: UUID
    refund_amount: MinorUnits
    total_refunded: MinorUnits
    currency: Currency
    fully_refunded: bool
    stripe_refund_id: str
    refunded_at: AwareDatetime


class PaymentHeld(EventData):
    producer = "payments"
    name = "PaymentHeld"

    payment_id: UUID
    contract_id: UUID
    amount: MinorUnits
    currency: Currency
    reason: str
    held_at: AwareDatetime


class PaymentDisputed(EventData):
    producer = "payments"
    name = "PaymentDisputed"

    payment_id: UUID
    contract_id: UUID
    stripe_dispute_id: str
    amount: MinorUnits
    currency: Currency
    reason: str
    disputed_at: AwareDatetime


class PaymentDisputeClosed(EventData):
    producer = "payments"
    name = "PaymentDisputeClosed"

    payment_id: UUID
    contract_id: UUID
    stripe_dispute_id: str
    outcome: Literal["won", "lost"]
    closed_at: AwareDatetime


class PaymentProcessing(EventData):
    """A delayed payment (e.g. a bank debit) was authorised at Checkout and waits for the bank:
    the contract stays pending and its pages say the payment is processing."""

    producer = "payments"
    name = "PaymentProcessing"

    payment_id: UUID
    contract_id: UUID
    amount: MinorUnits
    currency: Currency
    stripe_checkout_session_id: str
    processing_at: AwareDatetime


class _SessionEvent(EventData):
    producer = "scheduling"

    session_id: UUID
    contract_id: UUID
    starts_at: AwareDatetime
    duration_minutes: int = Field(ge=1)
    by: str
    """The user id of who booked or cancelled it; `system` when a contract's end cancelled it."""
    at: AwareDatetime


class SessionBooked(_SessionEvent):
    name = "SessionBooked"


class SessionCancelled(_SessionEvent):
    name = "SessionCancelled"


def event_type_of(model: type[EventData]) -> str:
    """`skileez.<producer>.<Name>.v<version>`, the CloudEvents `type` and the routing key."""
    return f"skileez.{model.producer}.{model.name}.v{model.version}"


def producer_of(event_type: str) -> str:
    return event_type.split(".")[1]


EVENT_MODELS: dict[str, type[EventData]] = {
    event_type_of(model): model
    for model in (
        ContractCreated,
        ContractActivated,
        ContractPaymentFailed,
        ContractCancelled,
        ContractSuspended,
        ContractReinstated,
        PaymentSucceeded,
        PaymentFailed,
        PaymentRefunded,
        PaymentHeld,
        PaymentDisputed,
        PaymentDisputeClosed,
        PaymentProcessing,
        SessionBooked,
        SessionCancelled,
    )
}
"""The registry: every event type this system knows, to its `data` model."""


def json_schema(event_type: str) -> dict[str, object]:
    """The JSON Schema of an event's `data`, as snapshotted under `libs/events/schemas/`."""
    return EVENT_MODELS[event_type].model_json_schema(mode="serialization")
