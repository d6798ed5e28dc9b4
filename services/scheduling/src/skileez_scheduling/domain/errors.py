"""Why a booking or a cancellation is refused; each refusal carries a stable code."""

from __future__ import annotations


class SchedulingRefusal(Exception):
    """A rule of the domain said no; nothing was changed."""

    code: str = "refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotAParticipant(SchedulingRefusal):
    code = "forbidden"


class PaymentRequired(SchedulingRefusal):
    code = "payment_required"


class ContractClosed(SchedulingRefusal):
    code = "contract_closed"


class SessionLimitReached(SchedulingRefusal):
    code = "session_limit_reached"


class SessionOverlap(SchedulingRefusal):
    code = "overlap"


class InvalidSessionTime(SchedulingRefusal):
    code = "invalid_session_time"


class SessionAlreadyCancelled(SchedulingRefusal):
    code = "session_already_cancelled"


class SessionAlreadyStarted(SchedulingRefusal):
    code = "session_already_started"
