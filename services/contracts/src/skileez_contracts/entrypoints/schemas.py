"""What the HTTP API takes and gives (also its OpenAPI description)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from skileez_contracts.domain.cancellation import CancellationQuote, Canceller
from skileez_contracts.domain.contract import Contract, ContractStatus, PaymentStatus
from skileez_contracts.domain.money import MAX_PAYABLE_AMOUNT
from skileez_contracts.domain.notifications import Notification, NotificationKind
from skileez_contracts.domain.proposal import Proposal, ProposalStatus
from skileez_web.money import decimals_of
from skileez_web.problems import Problem, invalid

NO_NUL = r"^[^\x00]*$"
UserId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=5000, pattern=NO_NUL)
]
Currency = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{3}$"),
    AfterValidator(str.lower),
    Field(
        description="ISO 4217 code of a currency Stripe charges in; stored lowercase",
        examples=["eur"],
    ),
]


class ProposalIn(BaseModel):
    """A coach's proposal; prices are integers in the currency's minor unit as Stripe counts it,
    and the total must be one Stripe charges in that currency (else 422 `unsupported_currency`,
    `amount_too_small`, `amount_too_large` or `amount_too_precise`)."""

    model_config = ConfigDict(extra="forbid")

    student_id: UserId
    title: Title
    description: Description | None = None
    session_count: Annotated[int, Field(strict=True, ge=1, le=1000)]
    price_per_session: Annotated[int, Field(strict=True, ge=1, le=MAX_PAYABLE_AMOUNT)]
    currency: Currency


class ProposalForm(BaseModel):
    """The coach's proposal as their browser posts it: the price per session as people write
    it, in the currency's main unit (`45.00`); the route turns it into `ProposalIn`."""

    model_config = ConfigDict(extra="forbid")

    student_id: UserId
    title: Title
    description: Description | None = None
    session_count: Annotated[int, Field(ge=1, le=1000)]
    price_per_session: Annotated[
        Decimal, Field(gt=0, max_digits=15, description="e.g. 45.00, in the currency's main unit")
    ]
    currency: Currency

    def proposal(self) -> ProposalIn:
        """The JSON API's proposal: the price in the currency's minor unit; 422
        `amount_too_precise` when it is finer than the currency counts."""
        places = decimals_of(self.currency)
        minor = self.price_per_session.scaleb(places)
        if minor != minor.to_integral_value():
            unit = "in whole units" if places == 0 else f"with {places} decimals at most"
            raise Problem(
                422,
                "amount_too_precise",
                f"Prices in {self.currency.upper()} are written {unit}.",
                field="price_per_session",
            )
        try:
            return ProposalIn(
                student_id=self.student_id,
                title=self.title,
                description=self.description,
                session_count=self.session_count,
                price_per_session=int(minor),
                currency=self.currency,
            )
        except ValidationError as error:
            raise invalid(error) from None


class ProposalOut(BaseModel):
    id: uuid.UUID
    coach_id: str
    student_id: str
    title: str
    description: str
    session_count: int
    price_per_session: int
    amount: int
    currency: str
    status: ProposalStatus
    created_at: AwareDatetime
    decided_at: AwareDatetime | None
    coach_name: str | None = Field(description="the coach's display name, when known")
    student_name: str | None = Field(
        description="the student's display name, known once they answered"
    )

    @classmethod
    def of(cls, proposal: Proposal) -> ProposalOut:
        return cls(
            id=proposal.id,
            coach_id=proposal.coach_id,
            student_id=proposal.student_id,
            title=proposal.title,
            description=proposal.description,
            session_count=proposal.session_count,
            price_per_session=proposal.price_per_session,
            amount=proposal.amount,
            currency=proposal.currency,
            status=proposal.status,
            created_at=proposal.created_at,
            decided_at=proposal.decided_at,
            coach_name=proposal.coach_name,
            student_name=proposal.student_name,
        )


class ProposalList(BaseModel):
    items: list[ProposalOut]


class ContractIn(BaseModel):
    """The accepted proposal to take a contract from; the price is the proposal's, never sent."""

    model_config = ConfigDict(extra="forbid")

    proposal_id: uuid.UUID


class ContractOut(BaseModel):
    id: uuid.UUID
    proposal_id: uuid.UUID
    student_id: str
    coach_id: str
    title: str
    session_count: int
    amount: int
    currency: str
    status: ContractStatus
    payment_status: PaymentStatus
    payment_date: AwareDatetime | None
    stripe_payment_intent_id: str | None
    created_at: AwareDatetime
    activated_at: AwareDatetime | None
    payment_url: str
    student_name: str | None = Field(description="the student's display name, when known")
    coach_name: str | None = Field(description="the coach's display name, when known")
    payment_processing_since: AwareDatetime | None = Field(
        description="while a delayed payment (a bank debit) waits for the bank: when it began"
    )
    amount_refunded: int = Field(
        description="what the paying payment has had refunded in all, as payments reports it"
    )
    cancelled_at: AwareDatetime | None
    cancelled_by: str | None = Field(
        description="who ended it: the user id of its student, its coach or an admin, or"
        " `system` when a payment's outcome (a full refund, a lost dispute) did"
    )
    cancelled_by_role: Canceller | None
    cancellation_reason: str | None
    refund_amount: int | None = Field(
        description="what the cancellation owes back to the student (payments refunds it);"
        " null while the contract is not cancelled"
    )
    cancellation_refunded: int = Field(
        description="how much of `refund_amount` payments has reported refunded so far"
    )

    @classmethod
    def of(cls, contract: Contract, payment_url: str) -> ContractOut:
        return cls(
            id=contract.id,
            proposal_id=contract.proposal_id,
            student_id=contract.student_id,
            coach_id=contract.coach_id,
            title=contract.title,
            session_count=contract.session_count,
            amount=contract.amount,
            currency=contract.currency,
            status=contract.status,
            payment_status=contract.payment_status,
            payment_date=contract.payment_date,
            stripe_payment_intent_id=contract.stripe_payment_intent_id,
            created_at=contract.created_at,
            activated_at=contract.activated_at,
            payment_url=payment_url,
            student_name=contract.student_name,
            coach_name=contract.coach_name,
            payment_processing_since=(
                contract.payment_processing_at if contract.is_payment_processing() else None
            ),
            amount_refunded=contract.amount_refunded,
            cancelled_at=contract.cancelled_at,
            cancelled_by=contract.cancelled_by,
            cancelled_by_role=contract.cancelled_by_role,
            cancellation_reason=contract.cancellation_reason,
            refund_amount=contract.cancellation_refund,
            cancellation_refunded=contract.cancellation_refunded,
        )


class ContractList(BaseModel):
    items: list[ContractOut]


Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000, pattern=NO_NUL)
]


class CancelIn(BaseModel):
    """Why the contract ends; the refund is the policy's, never sent."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason


class CancellationQuoteOut(BaseModel):
    """What cancelling now would refund, and how it was computed: `price_per_session` x
    `sessions_refunded` (at most what is left of the payment), where a session started, or
    starting within `notice_hours` of now, is delivered."""

    refund_amount: int
    currency: str
    sessions_delivered: int
    sessions_refunded: int
    price_per_session: int
    sessions_held: int = Field(description="booked sessions that have started")
    sessions_within_notice: int = Field(
        description="booked sessions starting within the notice: delivered (a late cancellation)"
    )
    notice_hours: float = Field(description="the notice of the side cancelling")
    cancelled_by_role: Canceller = Field(description="the side the caller cancels for")
    paid: bool = Field(description="false: the contract is withdrawn, nothing was paid")
    already_refunded: int = Field(description="refunded before, not refunded again")

    @classmethod
    def of(cls, quote: CancellationQuote) -> CancellationQuoteOut:
        return cls(
            refund_amount=quote.refund_amount,
            currency=quote.currency,
            sessions_delivered=quote.sessions_delivered,
            sessions_refunded=quote.sessions_refunded,
            price_per_session=quote.price_per_session,
            sessions_held=quote.sessions_held,
            sessions_within_notice=quote.sessions_within_notice,
            notice_hours=quote.notice_hours,
            cancelled_by_role=quote.cancelled_by,
            paid=quote.paid,
            already_refunded=quote.already_refunded,
        )


class NotificationOut(BaseModel):
    id: uuid.UUID
    contract_id: uuid.UUID
    kind: NotificationKind
    message: str
    amount: int | None
    currency: str
    created_at: AwareDatetime
    read_at: AwareDatetime | None = Field(
        description="when the coach first saw it on their notifications page; null while unread"
    )

    @classmethod
    def of(cls, notification: Notification) -> NotificationOut:
        return cls(
            id=notification.id,
            contract_id=notification.contract_id,
            kind=notification.kind,
            message=notification.message,
            amount=notification.amount,
            currency=notification.currency,
            created_at=notification.created_at,
            read_at=notification.read_at,
        )


class NotificationList(BaseModel):
    items: list[NotificationOut]


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=100_000)
