"""The invariants a chaos run must keep, judged on a `State` read after quiescence: each
violation names the ids involved, so a failed run says what to look at."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from skileez_events.schemas import event_type_of
from skileez_events.topology import SUBSCRIPTIONS

Row = dict[str, Any]

PAID = frozenset({"succeeded", "partially_refunded", "refunded", "disputed"})
"""Payment statuses once money was captured (payments' `PAID_STATUSES`)."""
TAKEN = PAID | {"held_for_review"}
"""Money captured, kept or held for an admin to decide."""
BEFORE_MONEY = frozenset({"open", "processing", "failed", "expired"})
CLOSED_SESSION = frozenset({"cancelled"})


@dataclass(frozen=True)
class Violation:
    kind: str
    detail: str
    ids: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"[{self.kind}] {self.detail} ({', '.join(self.ids)})"


@dataclass
class State:
    """Everything the checker reads: Stripe's side (the emulator), each service's tables, the
    broker's queues. Rows are plain dicts keyed by column name."""

    stripe_sessions: list[Row] = field(default_factory=list)
    stripe_charges: list[Row] = field(default_factory=list)
    stripe_disputes: list[Row] = field(default_factory=list)
    payments: list[Row] = field(default_factory=list)
    payment_reviews: list[Row] = field(default_factory=list)
    payment_contracts: list[Row] = field(default_factory=list)
    contracts: list[Row] = field(default_factory=list)
    notifications: list[Row] = field(default_factory=list)
    scheduling_contracts: list[Row] = field(default_factory=list)
    sessions: list[Row] = field(default_factory=list)
    outboxes: dict[str, list[Row]] = field(default_factory=dict)
    """Per producing service: `seq`, `event_id`, `event_type`, `sent_at`, `data` (decoded)."""
    inboxes: dict[str, list[Row]] = field(default_factory=dict)
    """Per consuming service: `consumer`, `event_id`, `event_type`."""
    queues: dict[str, int] = field(default_factory=dict)
    """Messages waiting per queue of the run's namespace (dead-letter queues included)."""
    kept_messages: list[Row] = field(default_factory=list)
    """What waits in the dead-letter and unrouted queues: `queue`, `type`, `id`."""
    now: datetime | None = None


def check(state: State) -> list[Violation]:
    """Every violation of every invariant in `state`."""
    return [violation for rule in RULES for violation in rule(state)]


def _reviewed(state: State) -> set[str]:
    return {str(review["payment_id"]) for review in state.payment_reviews}


def money_taken_means_one_payment(state: State) -> Iterable[Violation]:
    """Every session Stripe took money in has exactly one payment, which knows it did."""
    by_session = defaultdict(list)
    for payment in state.payments:
        by_session[payment["checkout_session_id"]].append(payment)
    for session in state.stripe_sessions:
        if session["payment_status"] != "paid":
            continue
        found = by_session.get(session["id"], [])
        if len(found) != 1:
            yield Violation(
                "money_without_one_payment",
                f"Stripe took money in a session with {len(found)} payments",
                (session["id"], *(str(p["id"]) for p in found)),
            )
        elif found[0]["status"] not in TAKEN:
            yield Violation(
                "money_taken_payment_unaware",
                f"Stripe took money but the payment is {found[0]['status']}",
                (session["id"], str(found[0]["id"])),
            )


def contract_paid_at_most_once(state: State) -> Iterable[Violation]:
    """A contract keeps one payment's money; a second is held (and reviewed), never kept."""
    reviewed = _reviewed(state)
    kept: dict[str, list[str]] = defaultdict(list)
    for payment in state.payments:
        if payment["status"] in PAID and str(payment["id"]) not in reviewed:
            kept[str(payment["contract_id"])].append(str(payment["id"]))
    for contract_id, payment_ids in kept.items():
        if len(payment_ids) > 1:
            yield Violation(
                "contract_paid_twice", "more than one payment kept", (contract_id, *payment_ids)
            )


def no_active_contract_without_money(state: State) -> Iterable[Violation]:
    paid = {str(p["contract_id"]) for p in state.payments if p["status"] in PAID}
    for contract in state.contracts:
        if contract["status"] == "active" and str(contract["id"]) not in paid:
            yield Violation(
                "active_without_money", "an active contract no payment paid", (str(contract["id"]),)
            )


def amounts_equal_end_to_end(state: State) -> Iterable[Violation]:
    """The contract's price in contracts, in payments' copy, in each payment and at Stripe."""
    learnt = {str(c["id"]): c for c in state.payment_contracts}
    sessions = {s["id"]: s for s in state.stripe_sessions}
    for contract in state.contracts:
        price = (contract["amount"], contract["currency"])
        copy = learnt.get(str(contract["id"]))
        if copy is not None and (copy["amount"], copy["currency"]) != price:
            yield Violation("amount_mismatch", "payments' copy differs", (str(contract["id"]),))
    contracts = {str(c["id"]): c for c in state.contracts}
    for payment in state.payments:
        owner = contracts.get(str(payment["contract_id"]))
        session = sessions.get(payment["checkout_session_id"])
        expected = (payment["amount"], payment["currency"])
        if owner is not None and (owner["amount"], owner["currency"]) != expected:
            yield Violation(
                "amount_mismatch",
                "payment differs from its contract",
                (str(payment["id"]), str(payment["contract_id"])),
            )
        if session is not None and (session["amount_total"], session["currency"]) != expected:
            yield Violation(
                "amount_mismatch",
                "payment differs from its Stripe session",
                (str(payment["id"]), session["id"]),
            )


def events_consumed_once_per_consumer(state: State) -> Iterable[Violation]:
    """Every published event is in each subscriber's inbox exactly once."""
    for consumer, models in SUBSCRIPTIONS.items():
        wanted = {event_type_of(model) for model in models}
        inbox = Counter(
            row["event_id"]
            for row in state.inboxes.get(consumer, [])
            if row["consumer"] == consumer
        )
        for producer, rows in state.outboxes.items():
            for row in rows:
                if row["event_type"] in wanted and inbox[row["event_id"]] != 1:
                    yield Violation(
                        "event_not_consumed_once",
                        f"{row['event_type']} from {producer} consumed "
                        f"{inbox[row['event_id']]} times by {consumer}",
                        (row["event_id"],),
                    )


def one_coach_notification_per_payment(state: State) -> Iterable[Violation]:
    notified = Counter(n["source_event_id"] for n in state.notifications)
    for row in state.outboxes.get("payments", []):
        if row["event_type"].endswith("PaymentSucceeded.v1") and notified[row["event_id"]] != 1:
            yield Violation(
                "coach_notifications",
                f"{notified[row['event_id']]} notifications for one payment",
                (row["event_id"], str(row["data"].get("payment_id"))),
            )


def refunds_and_disputes_match_stripe(state: State) -> Iterable[Violation]:
    charges = {c["payment_intent"]: c for c in state.stripe_charges}
    disputes = {d["charge"]: d for d in state.stripe_disputes}
    for payment in state.payments:
        charge = charges.get(payment["payment_intent_id"])
        if charge is None:
            continue
        if charge["amount_refunded"] != payment["amount_refunded"]:
            yield Violation(
                "refund_total_mismatch",
                f"payments says {payment['amount_refunded']} refunded, Stripe "
                f"{charge['amount_refunded']}",
                (str(payment["id"]), charge["id"]),
            )
        dispute = disputes.get(charge["id"])
        if dispute is None:
            continue
        closed = dispute["status"] in ("won", "lost")
        outcome = payment["dispute_outcome"]
        if (closed and outcome != dispute["status"]) or (not closed and outcome is not None):
            yield Violation(
                "dispute_mismatch",
                f"payments says {outcome}, Stripe {dispute['status']}",
                (str(payment["id"]), dispute["id"]),
            )


def refunded_or_lost_contracts_cancelled(state: State) -> Iterable[Violation]:
    """A contract whose money went back (fully refunded, dispute lost) is cancelled in
    contracts and scheduling, its future sessions with it."""
    reviewed = _reviewed(state)
    gone = {
        str(p["contract_id"])
        for p in state.payments
        if str(p["id"]) not in reviewed
        and (p["status"] == "refunded" or p["dispute_outcome"] == "lost")
    }
    contracts = {str(c["id"]): c for c in state.contracts}
    scheduled = {str(c["id"]): c for c in state.scheduling_contracts}
    for contract_id in sorted(gone):
        if (contract := contracts.get(contract_id)) and contract["status"] != "cancelled":
            yield Violation(
                "not_cancelled", f"contracts shows it {contract['status']}", (contract_id,)
            )
        if (mirror := scheduled.get(contract_id)) and mirror["status"] not in ("closed",):
            yield Violation(
                "not_cancelled", f"scheduling shows it {mirror['status']}", (contract_id,)
            )
        for session in state.sessions:
            if (
                str(session["contract_id"]) == contract_id
                and session["status"] not in CLOSED_SESSION
                and (state.now is None or session["starts_at"] > state.now)
            ):
                yield Violation(
                    "future_session_kept",
                    "a cancelled contract keeps a future session",
                    (contract_id, str(session["id"])),
                )


def suspended_contracts_take_no_bookings(state: State) -> Iterable[Violation]:
    """No session booked between a contract's suspension and its reinstatement (or now)."""
    for mirror in state.scheduling_contracts:
        suspended, reinstated = mirror["suspended_at"], mirror["reinstated_at"]
        if suspended is None:
            continue
        until = reinstated if reinstated is not None and reinstated > suspended else None
        for session in state.sessions:
            if (
                str(session["contract_id"]) == str(mirror["id"])
                and session["created_at"] > suspended
                and (until is None or session["created_at"] < until)
            ):
                yield Violation(
                    "booked_while_suspended",
                    "a session booked on a suspended contract",
                    (str(mirror["id"]), str(session["id"])),
                )


def nothing_left_in_flight(state: State) -> Iterable[Violation]:
    """No outbox row unsent, no message waiting, every dead letter listed."""
    for producer, rows in state.outboxes.items():
        for row in rows:
            if row["sent_at"] is None:
                yield Violation(
                    "unsent_outbox_row", f"{producer}: {row['event_type']}", (row["event_id"],)
                )
    subscribed = {event_type_of(model) for models in SUBSCRIPTIONS.values() for model in models}
    for queue, count in sorted(state.queues.items()):
        if not count:
            continue
        if queue.endswith("unrouted.kept"):
            # Kept by design when no service subscribes to the type; lost when one does.
            for message in state.kept_messages:
                if message["queue"] == queue and message["type"] in subscribed:
                    yield Violation(
                        "unrouted_event", f"{message['type']} reached no queue", (message["id"],)
                    )
            continue
        kind = "dead_letters" if queue.endswith(".dlq") else "unconsumed_events"
        listed = [f"{m['type']} {m['id']}" for m in state.kept_messages if m["queue"] == queue]
        yield Violation(kind, f"{count} messages in {queue}: {listed}", (queue,))


def sessions_within_count_and_apart(state: State) -> Iterable[Violation]:
    counts = {str(c["id"]): c["session_count"] for c in state.scheduling_contracts}
    live = [s for s in state.sessions if s["status"] not in CLOSED_SESSION]
    per_contract = Counter(str(s["contract_id"]) for s in live)
    for contract_id, count in per_contract.items():
        allowed = counts.get(contract_id)
        if allowed is not None and count > allowed:
            yield Violation("too_many_sessions", f"{count} sessions of {allowed}", (contract_id,))
    for person in ("coach_id", "student_id"):
        by_person: dict[str, list[Row]] = defaultdict(list)
        for session in live:
            by_person[session[person]].append(session)
        for sessions in by_person.values():
            ordered = sorted(sessions, key=lambda s: s["starts_at"])
            for before, after in itertools.pairwise(ordered):
                if after["starts_at"] < before["ends_at"]:
                    yield Violation(
                        "overlapping_sessions",
                        f"two sessions of one {person.removesuffix('_id')} overlap",
                        (str(before["id"]), str(after["id"])),
                    )


def money_never_goes_backwards(state: State) -> Iterable[Violation]:
    """Payments' own history (its outbox, in order): succeeded at most once, never failed
    once money was taken, and never back before money in the end."""
    history: dict[str, list[str]] = defaultdict(list)
    for row in sorted(state.outboxes.get("payments", []), key=lambda r: r["seq"]):
        if payment_id := row["data"].get("payment_id"):
            history[str(payment_id)].append(row["event_type"].split(".")[2])
    statuses = {str(p["id"]): p["status"] for p in state.payments}
    for payment_id, names in history.items():
        taken_at = next(
            (i for i, name in enumerate(names) if name in ("PaymentSucceeded", "PaymentHeld")),
            None,
        )
        if names.count("PaymentSucceeded") > 1:
            yield Violation("money_backwards", "succeeded twice", (payment_id,))
        if taken_at is not None and "PaymentFailed" in names[taken_at:]:
            yield Violation("money_backwards", "failed after money was taken", (payment_id,))
        if taken_at is not None and statuses.get(payment_id) in BEFORE_MONEY:
            yield Violation(
                "money_backwards",
                f"now {statuses[payment_id]} after money was taken",
                (payment_id,),
            )


RULES: tuple[Callable[[State], Iterable[Violation]], ...] = (
    money_taken_means_one_payment,
    contract_paid_at_most_once,
    no_active_contract_without_money,
    amounts_equal_end_to_end,
    events_consumed_once_per_consumer,
    one_coach_notification_per_payment,
    refunds_and_disputes_match_stripe,
    refunded_or_lost_contracts_cancelled,
    suspended_contracts_take_no_bookings,
    nothing_left_in_flight,
    sessions_within_count_and_apart,
    money_never_goes_backwards,
)
