"""The HTTP status of each domain refusal; its code and message come from the error itself."""

from __future__ import annotations

from skileez_contracts.domain import errors
from skileez_web.problems import Refusals

REFUSALS: Refusals = {
    errors.NotAParty: 403,
    errors.ProposalNotFound: 404,
    errors.ContractNotFound: 404,
    errors.ProposalNotOpen: 409,
    errors.ProposalNotAccepted: 409,
    errors.ContractExists: 409,
    errors.ContractAlreadyCancelled: 409,
    errors.ContractDisputed: 409,
    errors.PaymentUnderway: 409,
    errors.AmountTooLarge: 422,
    errors.AmountTooSmall: 422,
    errors.AmountTooPrecise: 422,
    errors.UnsupportedCurrency: 422,
    errors.InvalidTerms: 422,
    errors.SelfProposal: 422,
}
