"""How each domain refusal is answered over HTTP (the code and message come from the error)."""

from __future__ import annotations

from skileez_payments.domain.errors import (
    AlreadyPaid,
    CannotApprove,
    ContractClosed,
    ContractNotFound,
    Forbidden,
    IdempotencyKeyReused,
    NotCancelled,
    NotHeldForReview,
    NotRefundable,
    PaymentInProgress,
    PaymentNotFound,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
    SessionNotFound,
)
from skileez_web.problems import Refusals

REFUSALS: Refusals = {
    ContractNotFound: 404,
    PaymentNotFound: 404,
    SessionNotFound: 404,
    NotCancelled: 404,
    Forbidden: 403,
    AlreadyPaid: 409,
    PaymentInProgress: 409,
    ContractClosed: 409,
    NotRefundable: 409,
    NotHeldForReview: 409,
    CannotApprove: 409,
    IdempotencyKeyReused: 409,
    PaymentProviderRefused: 502,
    PaymentProviderUnavailable: 503,
}
