"""The hand-computed fixture: two weeks of November 2026 (ISO weeks 45 and 46) in two
currencies, with partial refunds, a held payment refunded at review, a lost and a won dispute,
a failed attempt, and a refund of a payment made before the period.

What the reports must say, worked out by hand (minor units; jpy has none):

    eur  week 45: gross 18000 (P1) + 12000 (P2) = 30000, 2 paid; refunded 4500 (P1, partial)
                  + 2000 (P8, paid in October) = 6500; disputed 0; net 23500
    eur  week 46: gross 6000 (P5), 1 paid; refunded 3000 (P1, second partial); disputed 12000
                  (P2, lost); net 6000 - 3000 - 12000 = -9000
    jpy  week 45: gross 5000 (P6), 1 paid; net 5000
    jpy  week 46: gross 12000 (P7), 1 paid; refunded 1500 (P6); disputed 0 (P7's was won);
                  net 10500
    totals: eur gross 36000, refunded 9500, disputed 12000, net 14500, 3 paid;
            jpy gross 17000, refunded 1500, disputed 0, net 15500, 2 paid
    by coach: coach-ana eur 18000 / 9500 / 0 / 8500 (1 paid), jpy 5000 / 1500 / 0 / 3500 (1);
              coach-bo  eur 18000 / 0 / 12000 / 6000 (2 paid), jpy 12000 / 0 / 0 / 12000 (1)
    P3 (held, refunded whole at review) never counts: it was never paid. P9 (held, in
    December) is outside the period and still waits for its review.

    funnel 2026-11-02..2026-11-15: 7 contracts created (C1-C7; C8 in October), 6 with a
    payment attempt (C7 has none), 5 paid (C3's only payment is held); time to pay 1800 (C5),
    3600 (C1), 7200 (C2), 10800 (C6), 176400 (C4: failed, then paid two days later) seconds:
    median 7200
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from skileez_events import (
    CloudEvent,
    ContractActivated,
    ContractCancelled,
    ContractCreated,
    ContractPaymentFailed,
    ContractReinstated,
    ContractSuspended,
    EventData,
    PaymentDisputeClosed,
    PaymentDisputed,
    PaymentFailed,
    PaymentHeld,
    PaymentRefunded,
    PaymentSucceeded,
    SessionBooked,
    SessionCancelled,
    new_event,
)

ANA = ("coach-ana", "Ana Coach")
BO = ("coach-bo", "Bo Coach")
STUDENT = ("student-1", "Sam Student")


def at(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def ids(label: str) -> uuid.UUID:
    """Stable ids, so a test can name a payment or contract of the fixture."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://skileez.example/test/november/{label}")


def event(data: EventData) -> CloudEvent:
    return new_event(data, subject=str(data.contract_id))  # type: ignore[attr-defined]


def created(
    contract: str, coach: tuple[str, str], amount: int, currency: str, when: datetime
) -> CloudEvent:
    return event(
        ContractCreated(
            contract_id=ids(contract),
            proposal_id=ids(f"proposal-{contract}"),
            student_id=STUDENT[0],
            student_name=STUDENT[1],
            coach_id=coach[0],
            coach_name=coach[1],
            title=f"Coaching {contract}",
            session_count=2,
            amount=amount,
            currency=currency,
            created_at=when,
        )
    )


def activated(
    contract: str, coach: tuple[str, str], payment: str, amount: int, currency: str, when: datetime
) -> CloudEvent:
    return event(
        ContractActivated(
            contract_id=ids(contract),
            student_id=STUDENT[0],
            coach_id=coach[0],
            session_count=2,
            amount=amount,
            currency=currency,
            payment_id=ids(payment),
            activated_at=when,
        )
    )


def paid(payment: str, contract: str, amount: int, currency: str, when: datetime) -> CloudEvent:
    return event(
        PaymentSucceeded(
            payment_id=ids(payment),
            contract_id=ids(contract),
            amount=amount,
            currency=currency,
            stripe_checkout_session_id=f"cs_test_{payment}",
            stripe_payment_intent_id=f"pi_test_{payment}",
            paid_at=when,
        )
    )


def refunded(
    payment: str,
    contract: str,
    refund: int,
    total: int,
    currency: str,
    fully: bool,
    when: datetime,
    number: int,
) -> CloudEvent:
    return event(
        PaymentRefunded(
            payment_id=ids(payment),
            contract_id=ids(contract),
            refund_amount=refund,
            total_refunded=total,
            currency=currency,
            fully_refunded=fully,
            stripe_refund_id=f"re_test_{payment}_{number}",
            refunded_at=when,
        )
    )


def disputed(payment: str, contract: str, amount: int, currency: str, when: datetime) -> CloudEvent:
    return event(
        PaymentDisputed(
            payment_id=ids(payment),
            contract_id=ids(contract),
            stripe_dispute_id=f"dp_test_{payment}",
            amount=amount,
            currency=currency,
            reason="fraudulent",
            disputed_at=when,
        )
    )


def dispute_closed(payment: str, contract: str, outcome: Any, when: datetime) -> CloudEvent:
    return event(
        PaymentDisputeClosed(
            payment_id=ids(payment),
            contract_id=ids(contract),
            stripe_dispute_id=f"dp_test_{payment}",
            outcome=outcome,
            closed_at=when,
        )
    )


def session(
    kind: type[SessionBooked] | type[SessionCancelled], label: str, contract: str, when: datetime
) -> CloudEvent:
    return event(
        kind(
            session_id=ids(label),
            contract_id=ids(contract),
            starts_at=when + timedelta(days=3),
            duration_minutes=60,
            by=STUDENT[0],
            at=when,
        )
    )


def november() -> list[CloudEvent]:
    """Every event of the fixture, in the order they happened."""
    return [
        # C8 / P8: paid in October (outside the period), partly refunded on 2 November.
        created("C8", ANA, 10000, "eur", at(29, 9, month=10)),
        paid("P8", "C8", 10000, "eur", at(30, 9, month=10)),
        activated("C8", ANA, "P8", 10000, "eur", at(30, 9, 1, month=10)),
        refunded("P8", "C8", 2000, 2000, "eur", False, at(2, 8), 1),
        # C1 / P1: eur, two partial refunds.
        created("C1", ANA, 18000, "eur", at(2, 9)),
        paid("P1", "C1", 18000, "eur", at(2, 10)),
        activated("C1", ANA, "P1", 18000, "eur", at(2, 10, 1)),
        session(SessionBooked, "S1", "C1", at(2, 11)),
        session(SessionBooked, "S2", "C1", at(2, 12)),
        session(SessionCancelled, "S2", "C1", at(3, 8)),
        refunded("P1", "C1", 4500, 4500, "eur", False, at(3, 9), 1),
        refunded("P1", "C1", 3000, 7500, "eur", False, at(10, 12), 2),
        # C2 / P2: eur, disputed and lost.
        created("C2", BO, 12000, "eur", at(4, 13)),
        paid("P2", "C2", 12000, "eur", at(4, 15)),
        activated("C2", BO, "P2", 12000, "eur", at(4, 15, 1)),
        disputed("P2", "C2", 12000, "eur", at(5, 10)),
        event(
            ContractSuspended(contract_id=ids("C2"), reason="disputed", suspended_at=at(5, 10, 1))
        ),
        dispute_closed("P2", "C2", "lost", at(12, 10)),
        event(
            ContractCancelled(
                contract_id=ids("C2"), reason="dispute lost", cancelled_at=at(12, 10, 1)
            )
        ),
        # C3 / P3: Stripe charged another amount: held, refunded whole at review.
        created("C3", ANA, 8000, "eur", at(6, 9)),
        event(
            PaymentHeld(
                payment_id=ids("P3"),
                contract_id=ids("C3"),
                amount=9000,
                currency="eur",
                reason="amount_mismatch",
                held_at=at(6, 10),
            )
        ),
        refunded("P3", "C3", 9000, 9000, "eur", True, at(6, 14), 1),
        # C4: P4 declined, then P5 paid two days after the contract was created.
        created("C4", BO, 6000, "eur", at(7, 7)),
        event(
            PaymentFailed(
                payment_id=ids("P4"),
                contract_id=ids("C4"),
                reason="card_declined",
                stripe_checkout_session_id="cs_test_P4",
                failed_at=at(7, 8),
            )
        ),
        event(
            ContractPaymentFailed(
                contract_id=ids("C4"),
                payment_id=ids("P4"),
                reason="card_declined",
                failed_at=at(7, 8, 1),
            )
        ),
        paid("P5", "C4", 6000, "eur", at(9, 8)),
        activated("C4", BO, "P5", 6000, "eur", at(9, 8, 1)),
        # C5 / P6: jpy, partly refunded.
        created("C5", ANA, 5000, "jpy", at(3, 10, 30)),
        paid("P6", "C5", 5000, "jpy", at(3, 11)),
        activated("C5", ANA, "P6", 5000, "jpy", at(3, 11, 1)),
        refunded("P6", "C5", 1500, 1500, "jpy", False, at(11, 9), 1),
        # C6 / P7: jpy, disputed and won.
        created("C6", BO, 12000, "jpy", at(10, 6)),
        paid("P7", "C6", 12000, "jpy", at(10, 9)),
        activated("C6", BO, "P7", 12000, "jpy", at(10, 9, 1)),
        disputed("P7", "C6", 12000, "jpy", at(11, 10)),
        event(
            ContractSuspended(contract_id=ids("C6"), reason="disputed", suspended_at=at(11, 10, 1))
        ),
        dispute_closed("P7", "C6", "won", at(14, 10)),
        event(ContractReinstated(contract_id=ids("C6"), reinstated_at=at(14, 10, 1))),
        # C7: created, never paid.
        created("C7", ANA, 4000, "eur", at(8, 12)),
        # C9 / P9: in December (after the period): paid after its session expired, held.
        created("C9", BO, 7000, "eur", at(1, 9, month=12)),
        event(
            PaymentHeld(
                payment_id=ids("P9"),
                contract_id=ids("C9"),
                amount=7000,
                currency="eur",
                reason="paid_after_expiry",
                held_at=at(1, 10, month=12),
            )
        ),
    ]
