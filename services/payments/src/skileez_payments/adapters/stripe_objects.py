"""Stripe's JSON objects, read into the few fields payments acts on (others are ignored).

An event is read in one pass into the model of its object's kind (Stripe's `object` field):
the ignored fields of a 4 KB Checkout Session are skipped by the JSON parser, never built as
Python objects. An object of another kind, or one that is not what its kind should be, is read
as `OtherObject`, so the event is still recorded and what it carries is judged by its type.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class StripeModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _id_of(value: Any) -> Any:
    """An expandable field: the id, whether Stripe sent the id or the expanded object."""
    return value.get("id") if isinstance(value, dict) else value


class CheckoutSession(StripeModel):
    object: Literal["checkout.session"] = "checkout.session"
    id: str
    status: str | None = None
    payment_status: str
    amount_total: int | None = None
    currency: str | None = None
    livemode: bool
    client_reference_id: str | None = None
    payment_intent: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    created: int | None = None

    _expandable = field_validator("payment_intent", mode="before")(_id_of)


class LastPaymentError(StripeModel):
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


class PaymentIntent(StripeModel):
    object: Literal["payment_intent"] = "payment_intent"
    id: str
    metadata: dict[str, str] = Field(default_factory=dict)
    last_payment_error: LastPaymentError | None = None

    @property
    def failure_reason(self) -> str:
        error = self.last_payment_error
        if error is None:
            return "payment_failed"
        return error.decline_code or error.code or error.message or "payment_failed"


class RefundList(StripeModel):
    data: list[dict[str, Any]] = Field(default_factory=list)


class Charge(StripeModel):
    object: Literal["charge"] = "charge"
    id: str
    amount: int
    amount_refunded: int
    currency: str
    livemode: bool | None = None
    payment_intent: str | None = None
    refunds: RefundList | None = None

    _expandable = field_validator("payment_intent", mode="before")(_id_of)

    @property
    def latest_refund_id(self) -> str:
        """The newest refund in the charge's embedded list (Stripe lists newest first)."""
        if self.refunds and self.refunds.data:
            newest = max(self.refunds.data, key=lambda refund: refund.get("created") or 0)
            return str(newest.get("id", ""))
        return ""


class Dispute(StripeModel):
    object: Literal["dispute"] = "dispute"
    id: str
    amount: int | None = None
    currency: str | None = None
    livemode: bool | None = None
    status: str | None = None
    charge: str | None = None
    payment_intent: str | None = None
    reason: str | None = None

    _expandable = field_validator("payment_intent", "charge", mode="before")(_id_of)


class OtherObject(StripeModel):
    """An object of a kind payments does not read, or one it cannot read as its kind."""

    object: str | None = None
    id: str | None = None


KnownObject = Annotated[
    CheckoutSession | PaymentIntent | Charge | Dispute, Field(discriminator="object")
]


class EventData(StripeModel):
    object: KnownObject | OtherObject = Field(union_mode="left_to_right")


class Event(StripeModel):
    id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    created: int
    livemode: bool
    data: EventData
