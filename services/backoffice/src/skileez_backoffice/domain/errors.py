"""The backoffice's refusals, each with a stable `code`."""

from __future__ import annotations


class BackofficeError(Exception):
    code = "backoffice_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidReportPeriod(BackofficeError):
    code = "invalid_period"


class PaymentNotFound(BackofficeError):
    code = "payment_not_found"

    def __init__(self) -> None:
        super().__init__("The backoffice has heard of no payment with this id.")
