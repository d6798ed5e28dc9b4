"""How each refusal of the domain answers over HTTP (`code` and detail come from the error)."""

from __future__ import annotations

from skileez_backoffice.domain.errors import InvalidReportPeriod, PaymentNotFound
from skileez_web.problems import Refusals

REFUSALS: Refusals = {
    PaymentNotFound: 404,
    InvalidReportPeriod: 422,
}
