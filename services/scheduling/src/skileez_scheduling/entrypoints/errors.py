"""How each refusal of the domain answers over HTTP (`code` and detail come from the error)."""

from __future__ import annotations

from skileez_scheduling.domain.errors import (
    CancellationLimitReached,
    ContractClosed,
    InvalidSessionTime,
    NotAParticipant,
    NotFound,
    PaymentRequired,
    SessionAlreadyCancelled,
    SessionAlreadyStarted,
    SessionLimitReached,
    SessionOverlap,
    SuspendedContract,
)
from skileez_web.problems import Refusals

REFUSALS: Refusals = {
    PaymentRequired: 402,
    NotAParticipant: 403,
    NotFound: 404,
    ContractClosed: 409,
    SuspendedContract: 409,
    SessionLimitReached: 409,
    CancellationLimitReached: 409,
    SessionOverlap: 409,
    SessionAlreadyCancelled: 409,
    SessionAlreadyStarted: 409,
    InvalidSessionTime: 422,
}
