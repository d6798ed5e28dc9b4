"""The contract aggregate: what a student bought from a coach, and where its payment stands.

Transitions are guarded, because any payment event may arrive late, twice or out of order:
a paid contract never goes back to pending or failed, a failed payment can still be followed
by a successful one, a full refund is final (refunded and cancelled), and a refund or a dispute
is applied only when it is of the payment that paid the contract. A dispute suspends an active
contract; won, it is active and paid again; lost, refunded and cancelled, for good.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from skileez_contracts.domain.cancellation import (
    CancellationPolicy,
    CancellationQuote,
    Canceller,
    delivered_sessions,
)
from skileez_contracts.domain.errors import (
    ContractAlreadyCancelled,
    ContractDisputed,
    DomainError,
    NotAParty,
    PaymentMismatch,
    PaymentUnderway,
    ProposalNotAccepted,
)
from skileez_contracts.domain.events import (
    ContractActivated,
    ContractCancelled,
    ContractCreated,
    ContractPaymentFailed,
    ContractRefunded,
    ContractReinstated,
    ContractSuspended,
    DisputeLost,
    DisputeWon,
    DomainEvent,
    PaymentProcessing,
)
from skileez_contracts.domain.money import total_amount
from skileez_contracts.domain.proposal import Proposal, ProposalStatus
from skileez_contracts.domain.sessions import BookedSession


class ContractStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    REFUNDED = "refunded"
    DISPUTED = "disputed"


class DisputeStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@dataclass
class Contract:
    id: uuid.UUID
    proposal_id: uuid.UUID
    student_id: str
    coach_id: str
    title: str
    session_count: int
    amount: int
    currency: str
    created_at: datetime
    status: ContractStatus = ContractStatus.PENDING
    payment_status: PaymentStatus = PaymentStatus.PENDING
    payment_id: uuid.UUID | None = None
    stripe_payment_intent_id: str | None = None
    payment_date: datetime | None = None
    activated_at: datetime | None = None
    cancelled_at: datetime | None = None
    stripe_dispute_id: str | None = None
    """The dispute of the paying payment, open or closed (Stripe allows one per charge)."""
    dispute_status: DisputeStatus | None = None
    student_name: str | None = None
    """The student's display name when they took the contract (else when they accepted)."""
    coach_name: str | None = None
    """The coach's display name when they proposed."""
    processing_payment_id: uuid.UUID | None = None
    """The delayed payment (a bank debit) the bank has yet to answer for, while one is."""
    payment_processing_at: datetime | None = None
    failed_payment_id: uuid.UUID | None = None
    """The latest failed attempt: its processing news, if late, is not taken as current."""
    amount_refunded: int = 0
    """What the paying payment has had refunded in all, as payments reports it."""
    cancelled_by: str | None = None
    """Who ended the contract: a user id, or `system` for a payment's outcome."""
    cancelled_by_role: Canceller | None = None
    cancellation_reason: str | None = None
    cancellation_refund: int | None = None
    """What the cancellation owes back to the student (0 for a withdrawal or nothing left)."""
    refunded_at_cancellation: int = 0
    """`amount_refunded` when it was cancelled: the cancellation's refund comes on top."""
    events: list[DomainEvent] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def from_proposal(
        cls,
        proposal: Proposal,
        *,
        student_id: str,
        now: datetime,
        student_name: str | None = None,
    ) -> Contract:
        """The student's contract for an accepted proposal, priced by the coach's proposal;
        the parties' names as they are now, or as the proposal knew them."""
        if student_id != proposal.student_id:
            raise NotAParty("Only the student of the proposal may take a contract from it.")
        if proposal.status is not ProposalStatus.ACCEPTED:
            raise ProposalNotAccepted(f"The proposal is {proposal.status}, not accepted.")
        contract = cls(
            id=uuid.uuid4(),
            proposal_id=proposal.id,
            student_id=proposal.student_id,
            coach_id=proposal.coach_id,
            title=proposal.title,
            session_count=proposal.session_count,
            amount=total_amount(proposal.session_count, proposal.price_per_session),
            currency=proposal.currency,
            created_at=now,
            student_name=student_name or proposal.student_name,
            coach_name=proposal.coach_name,
        )
        contract.events.append(ContractCreated(created_at=now))
        return contract

    def is_party(self, user_id: str) -> bool:
        return user_id in (self.coach_id, self.student_id)

    @property
    def student_display(self) -> str:
        """The student as people read it: their name, else their id."""
        return self.student_name or self.student_id

    @property
    def coach_display(self) -> str:
        """The coach as people read it: their name, else their id."""
        return self.coach_name or self.coach_id

    def can_schedule_sessions(self) -> bool:
        return self.status is ContractStatus.ACTIVE and self.payment_status is PaymentStatus.PAID

    def awaits_payment(self) -> bool:
        """Pending, with no payment or only failed ones: the student may (re)try to pay."""
        return self.status is ContractStatus.PENDING and self.payment_status in (
            PaymentStatus.PENDING,
            PaymentStatus.FAILED,
        )

    def awaits_success_of(self, payment_id: uuid.UUID) -> bool:
        """Whether news of `payment_id` (a refund, a dispute) must wait for its success: no
        payment pays the contract yet, and that one's success may still be on its way (events
        of different types travel on different queues). It may also never come (a held payment
        refunded at review): the contract then stays payable."""
        return self.payment_id is None and self.status is not ContractStatus.CANCELLED

    def is_suspended(self) -> bool:
        return self.status is ContractStatus.SUSPENDED

    def mark_payment_paid(
        self,
        *,
        payment_id: uuid.UUID,
        stripe_payment_intent_id: str,
        amount: int,
        currency: str,
        paid_at: datetime,
        now: datetime,
    ) -> None:
        """Activate on a confirmed payment; a no-op once paid, refunded or cancelled."""
        self._check_money(amount, currency)
        if not self.awaits_payment():
            return
        self.payment_status = PaymentStatus.PAID
        self.payment_id = payment_id
        self.stripe_payment_intent_id = stripe_payment_intent_id
        self.payment_date = paid_at
        self.status = ContractStatus.ACTIVE
        self.activated_at = now
        self.events.append(ContractActivated(payment_id=payment_id, activated_at=now))

    def is_payment_processing(self) -> bool:
        """A delayed payment waits for the bank: the student is told, and not asked to pay."""
        return self.awaits_payment() and self.processing_payment_id is not None

    def mark_payment_processing(self, *, payment_id: uuid.UUID, processing_at: datetime) -> None:
        """Record a delayed payment's wait for the bank; news that its attempt failed, or that
        the contract is paid, came first makes it a no-op."""
        if not self.awaits_payment() or payment_id == self.failed_payment_id:
            return
        self.processing_payment_id = payment_id
        self.payment_processing_at = processing_at
        self.events.append(PaymentProcessing(payment_id=payment_id, processing_at=processing_at))

    def mark_payment_failed(
        self, *, payment_id: uuid.UUID, reason: str, failed_at: datetime
    ) -> None:
        """Record a failed attempt; a late failure never undoes a paid or refunded contract."""
        if not self.awaits_payment():
            return
        self.payment_status = PaymentStatus.FAILED
        self.failed_payment_id = payment_id
        if payment_id == self.processing_payment_id:
            self.processing_payment_id = self.payment_processing_at = None
        self.events.append(
            ContractPaymentFailed(payment_id=payment_id, reason=reason, failed_at=failed_at)
        )

    def mark_payment_refunded(
        self,
        *,
        payment_id: uuid.UUID,
        refund_amount: int,
        total_refunded: int,
        currency: str,
        fully_refunded: bool,
        refunded_at: datetime,
    ) -> None:
        """Record a refund; a full one makes the contract refunded and cancelled, for good.
        A refund of another payment than the one that paid the contract (a duplicate taken
        twice, or one that never succeeded) is not about the contract: nothing changes, and the
        coach, who never had that money, is not told."""
        if payment_id != self.payment_id:
            return
        self._check_currency(currency)
        if self.payment_status is PaymentStatus.REFUNDED:
            return
        self.amount_refunded = max(self.amount_refunded, total_refunded)
        self.events.append(
            ContractRefunded(
                payment_id=payment_id,
                refund_amount=refund_amount,
                total_refunded=total_refunded,
                fully_refunded=fully_refunded,
                refunded_at=refunded_at,
            )
        )
        if fully_refunded:
            self.payment_status = PaymentStatus.REFUNDED
            self._cancel("payment refunded", refunded_at)

    def mark_payment_disputed(
        self,
        *,
        payment_id: uuid.UUID,
        dispute_id: str,
        amount: int,
        currency: str,
        reason: str,
        disputed_at: datetime,
    ) -> None:
        """Suspend an active contract whose paying payment is disputed. A dispute of another
        payment, one already known (open or closed: its closure may come first), or of a contract
        not active (cancelled stays cancelled) changes nothing."""
        if payment_id != self.payment_id or self.stripe_dispute_id is not None:
            return
        self._check_currency(currency)
        if self.status is not ContractStatus.ACTIVE:
            return
        self.stripe_dispute_id = dispute_id
        self.dispute_status = DisputeStatus.OPEN
        self.status = ContractStatus.SUSPENDED
        self.payment_status = PaymentStatus.DISPUTED
        self.events.append(
            ContractSuspended(
                dispute_id=dispute_id,
                disputed_amount=amount,
                reason=reason,
                suspended_at=disputed_at,
            )
        )

    def close_dispute(
        self, *, payment_id: uuid.UUID, dispute_id: str, won: bool, closed_at: datetime
    ) -> None:
        """Won: a suspended contract is active and paid again; lost: refunded and cancelled,
        for good. The first closure of a dispute decides; a closure of another payment's dispute,
        or of another dispute than the one open, changes nothing, and a cancelled contract stays
        cancelled. A closure seen before its dispute is recorded, so the late dispute is a no-op."""
        if payment_id != self.payment_id or self.status is ContractStatus.CANCELLED:
            return
        if self.stripe_dispute_id not in (None, dispute_id):
            return
        if self.dispute_status in (DisputeStatus.WON, DisputeStatus.LOST):
            return
        self.stripe_dispute_id = dispute_id
        if won:
            self.dispute_status = DisputeStatus.WON
            self.events.append(DisputeWon(dispute_id=dispute_id, closed_at=closed_at))
            if self.status is ContractStatus.SUSPENDED:
                self.status = ContractStatus.ACTIVE
                self.payment_status = PaymentStatus.PAID
                self.events.append(ContractReinstated(reinstated_at=closed_at))
            return
        self.dispute_status = DisputeStatus.LOST
        self.payment_status = PaymentStatus.REFUNDED
        self.events.append(DisputeLost(dispute_id=dispute_id, closed_at=closed_at))
        self._cancel(f"payment dispute {dispute_id} lost: the bank returned the money", closed_at)

    def canceller(self, user_id: str, *, admin: bool) -> Canceller:
        """The side `user_id` cancels for: an admin, the student or the coach; anyone else is
        refused."""
        if admin:
            return Canceller.ADMIN
        if user_id == self.student_id:
            return Canceller.STUDENT
        if user_id == self.coach_id:
            return Canceller.COACH
        raise NotAParty("Only the student and the coach of a contract, or an admin, may end it.")

    def cancellation_quote(
        self,
        sessions: Iterable[BookedSession],
        policy: CancellationPolicy,
        by: Canceller,
        now: datetime,
    ) -> CancellationQuote:
        """What cancelling now would refund: the price per session times the sessions not
        delivered (`domain.cancellation`), never more than is left of the payment; nothing for
        a contract not paid (it is withdrawn)."""
        notice = policy.notice_for(by)
        price = self.amount // self.session_count
        paid = self.payment_id is not None and self.payment_status is not PaymentStatus.PENDING
        if not paid:
            return CancellationQuote(0, self.currency, 0, 0, price, 0, 0, notice, by, paid=False)
        held, within = delivered_sessions(sessions, notice, now)
        delivered = min(held + within, self.session_count)
        refunded = self.session_count - delivered
        left = max(self.amount - self.amount_refunded, 0)
        return CancellationQuote(
            refund_amount=min(price * refunded, left),
            currency=self.currency,
            sessions_delivered=delivered,
            sessions_refunded=refunded,
            price_per_session=price,
            sessions_held=held,
            sessions_within_notice=within,
            notice=notice,
            cancelled_by=by,
            paid=True,
            already_refunded=self.amount_refunded,
        )

    def check_cancellable(self) -> None:
        if (refusal := self._cancellation_refusal()) is not None:
            raise refusal

    def may_be_cancelled(self) -> bool:
        return self._cancellation_refusal() is None

    def _cancellation_refusal(self) -> DomainError | None:
        """A cancelled contract stays so; a disputed one waits for the bank's decision (Stripe
        refunds no disputed charge); a payment on its way (a bank debit) must land first."""
        if self.status is ContractStatus.CANCELLED:
            return ContractAlreadyCancelled(f"Contract {self.id} is already cancelled.")
        if self.status is ContractStatus.SUSPENDED:
            return ContractDisputed(
                "The payment of this contract is disputed with the student's bank: the"
                " contract can be ended once the dispute is closed."
            )
        if self.is_payment_processing():
            return PaymentUnderway(
                "A payment of this contract is waiting for the bank: the contract can be ended"
                " once the bank has answered."
            )
        return None

    def cancel(
        self,
        *,
        user_id: str,
        by: Canceller,
        reason: str,
        sessions: Iterable[BookedSession],
        policy: CancellationPolicy,
        now: datetime,
    ) -> CancellationQuote:
        """End the contract at its quote (ContractCancelled with the refund owed back): a
        pending one is withdrawn, an active one refunds its undelivered sessions."""
        self.check_cancellable()
        quote = self.cancellation_quote(sessions, policy, by, now)
        self._cancel(reason, now, by=user_id, role=by, refund=quote.refund_amount)
        return quote

    @property
    def cancellation_refunded(self) -> int:
        """How much of the cancellation's refund payments has reported refunded."""
        return max(self.amount_refunded - self.refunded_at_cancellation, 0)

    def pull_events(self) -> list[DomainEvent]:
        recorded, self.events = self.events, []
        return recorded

    def _cancel(
        self,
        reason: str,
        at: datetime,
        *,
        by: str = "system",
        role: Canceller = Canceller.SYSTEM,
        refund: int = 0,
    ) -> None:
        if self.status is ContractStatus.CANCELLED:
            return
        self.status = ContractStatus.CANCELLED
        self.cancelled_at = at
        self.cancelled_by, self.cancelled_by_role = by, role
        self.cancellation_reason = reason
        self.cancellation_refund = refund
        self.refunded_at_cancellation = self.amount_refunded
        self.events.append(
            ContractCancelled(
                reason=reason, cancelled_at=at, cancelled_by=by, role=role, refund_amount=refund
            )
        )

    def _check_money(self, amount: int, currency: str) -> None:
        self._check_currency(currency)
        if amount != self.amount:
            raise PaymentMismatch(f"Paid {amount}, but the contract is for {self.amount}.")

    def _check_currency(self, currency: str) -> None:
        if currency != self.currency:
            raise PaymentMismatch(f"Paid in {currency}, but the contract is in {self.currency}.")
