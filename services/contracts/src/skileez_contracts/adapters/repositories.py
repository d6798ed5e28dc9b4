"""Repositories: load and store the aggregates with SQLAlchemy Core, in the caller's session."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from skileez_contracts.adapters.tables import contracts, notifications, proposals
from skileez_contracts.domain.contract import Contract, ContractStatus, PaymentStatus
from skileez_contracts.domain.notifications import Notification, NotificationKind
from skileez_contracts.domain.proposal import Proposal, ProposalStatus

CONTRACT_STATE = (
    "status",
    "payment_status",
    "payment_id",
    "stripe_payment_intent_id",
    "payment_date",
    "activated_at",
    "cancelled_at",
)
"""The columns a contract's transitions change."""

# Built once, executed with a parameter dict: skips SQLAlchemy's per-call construction,
# coercion and cache-key generation of the statements the payment consumer runs.
_SELECT_CONTRACT = select(contracts).where(contracts.c.id == bindparam("contract_id"))
_SELECT_CONTRACT_LOCKED = _SELECT_CONTRACT.with_for_update()
_UPDATE_CONTRACT = (
    update(contracts)
    .where(contracts.c.id == bindparam("contract_id"))
    .values({name: bindparam(f"new_{name}") for name in CONTRACT_STATE})
)
_INSERT_NOTIFICATION = insert(notifications)


class ProposalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, proposal: Proposal) -> None:
        await self._session.execute(insert(proposals).values(**_proposal_values(proposal)))

    async def get(self, proposal_id: uuid.UUID, *, for_update: bool = False) -> Proposal | None:
        query = select(proposals).where(proposals.c.id == proposal_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        return None if row is None else _proposal(row)

    async def of_party(self, user_id: str, *, limit: int, offset: int) -> list[Proposal]:
        """The proposals `user_id` made (as coach) or received (as student), newest first."""
        query = (
            select(proposals)
            .where(or_(proposals.c.coach_id == user_id, proposals.c.student_id == user_id))
            .order_by(proposals.c.created_at.desc(), proposals.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [_proposal(row) for row in await self._session.execute(query)]

    async def update(self, proposal: Proposal) -> None:
        await self._session.execute(
            update(proposals)
            .where(proposals.c.id == proposal.id)
            .values(status=proposal.status.value, decided_at=proposal.decided_at)
        )


class ContractRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, contract: Contract) -> None:
        await self._session.execute(insert(contracts).values(**_contract_values(contract)))

    async def get(self, contract_id: uuid.UUID, *, for_update: bool = False) -> Contract | None:
        """The contract; `for_update` locks it so concurrent payment events apply one at a time."""
        query = _SELECT_CONTRACT_LOCKED if for_update else _SELECT_CONTRACT
        row = (await self._session.execute(query, {"contract_id": contract_id})).first()
        return None if row is None else _contract(row)

    async def id_for_proposal(self, proposal_id: uuid.UUID) -> uuid.UUID | None:
        query = select(contracts.c.id).where(contracts.c.proposal_id == proposal_id)
        found: uuid.UUID | None = (await self._session.execute(query)).scalar()
        return found

    async def of_party(self, user_id: str, *, limit: int, offset: int) -> list[Contract]:
        """The contracts where `user_id` is the student or the coach, newest first."""
        query = (
            select(contracts)
            .where(or_(contracts.c.student_id == user_id, contracts.c.coach_id == user_id))
            .order_by(contracts.c.created_at.desc(), contracts.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [_contract(row) for row in await self._session.execute(query)]

    async def update(self, contract: Contract) -> None:
        values = _contract_values(contract)
        await self._session.execute(
            _UPDATE_CONTRACT,
            {
                "contract_id": contract.id,
                **{f"new_{name}": values[name] for name in CONTRACT_STATE},
            },
        )


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, notification: Notification, *, source_event_id: str) -> None:
        await self._session.execute(
            _INSERT_NOTIFICATION,
            {
                "id": notification.id,
                "recipient_id": notification.recipient_id,
                "contract_id": notification.contract_id,
                "kind": notification.kind.value,
                "message": notification.message,
                "amount": notification.amount,
                "currency": notification.currency,
                "source_event_id": source_event_id,
                "created_at": notification.created_at,
            },
        )

    async def for_recipient(self, user_id: str, *, limit: int, offset: int) -> list[Notification]:
        query = (
            select(notifications)
            .where(notifications.c.recipient_id == user_id)
            .order_by(notifications.c.created_at.desc(), notifications.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [
            Notification(
                id=row.id,
                recipient_id=row.recipient_id,
                contract_id=row.contract_id,
                kind=NotificationKind(row.kind),
                message=row.message,
                amount=row.amount,
                currency=row.currency,
                created_at=row.created_at,
            )
            for row in await self._session.execute(query)
        ]


def _proposal_values(proposal: Proposal) -> dict[str, Any]:
    return {
        "id": proposal.id,
        "coach_id": proposal.coach_id,
        "student_id": proposal.student_id,
        "title": proposal.title,
        "description": proposal.description,
        "session_count": proposal.session_count,
        "price_per_session": proposal.price_per_session,
        "currency": proposal.currency,
        "status": proposal.status.value,
        "created_at": proposal.created_at,
        "decided_at": proposal.decided_at,
    }


def _proposal(row: Row[Any]) -> Proposal:
    values = row._asdict()
    return Proposal(**{**values, "status": ProposalStatus(values["status"])})


def _contract_values(contract: Contract) -> dict[str, Any]:
    return {
        "id": contract.id,
        "proposal_id": contract.proposal_id,
        "student_id": contract.student_id,
        "coach_id": contract.coach_id,
        "title": contract.title,
        "session_count": contract.session_count,
        "amount": contract.amount,
        "currency": contract.currency,
        "status": contract.status.value,
        "payment_status": contract.payment_status.value,
        "payment_id": contract.payment_id,
        "stripe_payment_intent_id": contract.stripe_payment_intent_id,
        "payment_date": contract.payment_date,
        "created_at": contract.created_at,
        "activated_at": contract.activated_at,
        "cancelled_at": contract.cancelled_at,
    }


def _contract(row: Row[Any]) -> Contract:
    values = row._asdict()
    return Contract(
        **{
            **values,
            "status": ContractStatus(values["status"]),
            "payment_status": PaymentStatus(values["payment_status"]),
        }
    )
