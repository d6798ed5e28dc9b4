"""Why a booking, a cancellation or a lookup is refused; each refusal carries a stable code."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain said no; nothing was changed. `fields` are extra facts for the
    caller (the problem+json body carries them)."""

    code: str = "refused"

    def __init__(self, detail: str, **fields: object) -> None:
        super().__init__(detail)
        self.fields = fields


class NotFound(DomainError):
    """Nothing the caller may see has that id."""

    code = "not_found"


class NotAParticipant(DomainError):
    code = "forbidden"


class PaymentRequired(DomainError):
    code = "payment_required"


class ContractClosed(DomainError):
    code = "contract_closed"


class SuspendedContract(DomainError):
    """The contract's payment is disputed: no new bookings until it is reinstated."""

    code = "contract_suspended"


class SessionLimitReached(DomainError):
    code = "session_limit_reached"


class CancellationLimitReached(DomainError):
    """The contract has had as many cancelled sessions as it allows: no more bookings."""

    code = "cancellation_limit_reached"


class SessionOverlap(DomainError):
    code = "overlap"


class InvalidSessionTime(DomainError):
    code = "invalid_session_time"


class SessionAlreadyCancelled(DomainError):
    code = "session_already_cancelled"


class SessionAlreadyStarted(DomainError):
    code = "session_already_started"
