"""Why payments refuses a request; each refusal has a stable code the API reports."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str]


class ContractNotFound(DomainError):
    code = "contract_not_found"

    def __init__(self, contract_id: uuid.UUID | None = None) -> None:
        super().__init__(
            "There is no such contract."
            if contract_id is None
            else f"We do not know contract {contract_id} yet. If it was created a moment ago, "
            "please try again in a few seconds."
        )


class PaymentNotFound(DomainError):
    code = "payment_not_found"

    def __init__(self, payment_id: uuid.UUID | None = None) -> None:
        super().__init__(
            "There is no such payment."
            if payment_id is None
            else f"There is no payment {payment_id}."
        )


class Forbidden(DomainError):
    """The caller may not see or do this: not a party to the contract, or not its student."""

    code = "forbidden"


class AlreadyPaid(DomainError):
    code = "already_paid"

    def __init__(self, payment_id: uuid.UUID) -> None:
        super().__init__("This contract is already paid.")
        self.payment_id = payment_id
        self.fields: dict[str, Any] = {"payment_id": str(payment_id)}


class PaymentInProgress(DomainError):
    code = "payment_in_progress"

    def __init__(self, payment_id: uuid.UUID) -> None:
        super().__init__(
            "A payment for this contract is being confirmed; no new payment is needed."
        )
        self.payment_id = payment_id
        self.fields: dict[str, Any] = {"payment_id": str(payment_id)}


class ContractClosed(DomainError):
    """The contract was cancelled (withdrawn before it was paid, or ended): nothing to pay."""

    code = "contract_cancelled"

    def __init__(self, contract_id: uuid.UUID) -> None:
        super().__init__(f"Contract {contract_id} was cancelled: it can no longer be paid.")


class NotCancelled(DomainError):
    """The contract has no cancellation (payments has not heard of one)."""

    code = "not_cancelled"


class NotRefundable(DomainError):
    code = "not_refundable"


class NotHeldForReview(DomainError):
    """A review is asked of a payment that is not held for one."""

    code = "not_held_for_review"


class CannotApprove(DomainError):
    """A held payment that may not pay the contract: another payment did, or Stripe charged
    other money than the contract asks. It can be refunded instead."""

    code = "cannot_approve"


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key sent again with another request than the one it was first sent with."""

    code = "idempotency_key_reused"


class SessionNotFound(DomainError):
    """The Checkout Session a customer came back with is unknown, or not this contract's."""

    code = "session_not_found"


class PaymentNotReady(DomainError):
    """The event concerns a later stage than the payment has reached: try again later."""

    code = "not_ready"


class RefundCurrencyMismatch(DomainError):
    """Stripe reports a refund in another currency than the payment's: nothing is recorded."""

    code = "currency_mismatch"


class PaymentProviderUnavailable(DomainError):
    """Stripe could not be reached or failed on its side: worth retrying later."""

    code = "payment_provider_unavailable"


class PaymentProviderRefused(DomainError):
    code = "payment_provider_refused"
