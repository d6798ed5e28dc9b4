"""Domain refusals as problem+json answers: the HTTP status of each, the code it carries."""

from __future__ import annotations

from aiohttp import web

from skileez_contracts.domain import errors
from skileez_web.problems import Handler, Problem

STATUS: dict[type[errors.DomainError], int] = {
    errors.NotAParty: 403,
    errors.ProposalNotFound: 404,
    errors.ContractNotFound: 404,
    errors.ProposalNotOpen: 409,
    errors.ProposalNotAccepted: 409,
    errors.ContractExists: 409,
    errors.AmountTooLarge: 422,
    errors.SelfProposal: 422,
}


@web.middleware
async def domain_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Runs inside the shared problem middleware, which renders the `Problem` raised here."""
    try:
        return await handler(request)
    except errors.ContractExists as error:
        raise Problem(
            409,
            error.code,
            str(error),
            contract_id=str(error.contract_id),
            contract_url=f"/contracts/{error.contract_id}",
        ) from None
    except errors.DomainError as error:
        status = STATUS.get(type(error))
        if status is None:
            raise
        raise Problem(status, error.code, str(error)) from None
