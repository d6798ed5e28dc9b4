"""Why the domain refuses a request; each refusal has a stable code the API reports."""

from __future__ import annotations

import uuid
from typing import ClassVar


class DomainError(Exception):
    code: ClassVar[str]


class NotAParty(DomainError):
    """The caller is neither the student nor the coach this concerns."""

    code = "not_a_party"


class ProposalNotFound(DomainError):
    code = "proposal_not_found"


class ContractNotFound(DomainError):
    code = "contract_not_found"


class ProposalNotOpen(DomainError):
    code = "proposal_not_open"


class ProposalNotAccepted(DomainError):
    code = "proposal_not_accepted"


class ContractExists(DomainError):
    """A proposal gives at most one contract."""

    code = "contract_exists"

    def __init__(self, contract_id: uuid.UUID) -> None:
        super().__init__(f"Proposal already has contract {contract_id}.")
        self.contract_id = contract_id

    @property
    def fields(self) -> dict[str, str]:
        """Added to the refusal's body: the contract the proposal already has."""
        return {
            "contract_id": str(self.contract_id),
            "contract_url": f"/contracts/{self.contract_id}",
        }


class PriceRefused(DomainError):
    """A proposal's price or currency that could not be charged; `fields` say what would be
    (the currency's limit or step), for a client to show or correct."""

    def __init__(self, message: str, **fields: str | int) -> None:
        super().__init__(message)
        self.fields = fields


class AmountTooLarge(PriceRefused):
    """A total past the largest amount Stripe charges in its currency, or an event carries."""

    code = "amount_too_large"


class AmountTooSmall(PriceRefused):
    """A total under Stripe's minimum charge in its currency."""

    code = "amount_too_small"


class AmountTooPrecise(PriceRefused):
    """An amount finer than Stripe takes in its currency (a three-decimal one not ending in 0)."""

    code = "amount_too_precise"


class UnsupportedCurrency(PriceRefused):
    """A currency Stripe does not charge in."""

    code = "unsupported_currency"


class InvalidTerms(DomainError):
    """No session, or a negative price: there is nothing to sell."""

    code = "invalid_terms"


class SelfProposal(DomainError):
    code = "self_proposal"


class PaymentMismatch(DomainError):
    """A payment event whose amount or currency is not the contract's: never applied."""

    code = "payment_mismatch"


class ContractAlreadyCancelled(DomainError):
    code = "contract_cancelled"


class ContractDisputed(DomainError):
    """A disputed (suspended) contract waits for the bank's decision."""

    code = "contract_disputed"


class PaymentUnderway(DomainError):
    """A delayed payment (a bank debit) of the contract waits for the bank."""

    code = "payment_in_progress"
