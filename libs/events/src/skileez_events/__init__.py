"""Shared integration-event plumbing: envelope, schemas, topology, outbox, relay, inbox consumer."""

from skileez_events.consumer import (
    EventConsumer,
    Inbox,
    Incoming,
    Subscription,
    UnprocessableEvent,
    in_unit_of_work,
)
from skileez_events.envelope import CloudEvent, caused_by, new_event
from skileez_events.outbox import Outbox
from skileez_events.relay import OutboxRelay
from skileez_events.schemas import (
    EVENT_MODELS,
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
    PaymentProcessing,
    PaymentRefunded,
    PaymentSucceeded,
    SessionBooked,
    SessionCancelled,
    event_type_of,
)
from skileez_events.topology import Names

__all__ = [
    "EVENT_MODELS",
    "CloudEvent",
    "ContractActivated",
    "ContractCancelled",
    "ContractCreated",
    "ContractPaymentFailed",
    "ContractReinstated",
    "ContractSuspended",
    "EventConsumer",
    "EventData",
    "Inbox",
    "Incoming",
    "Names",
    "Outbox",
    "OutboxRelay",
    "PaymentDisputeClosed",
    "PaymentDisputed",
    "PaymentFailed",
    "PaymentHeld",
    "PaymentProcessing",
    "PaymentRefunded",
    "PaymentSucceeded",
    "SessionBooked",
    "SessionCancelled",
    "Subscription",
    "UnprocessableEvent",
    "caused_by",
    "event_type_of",
    "in_unit_of_work",
    "new_event",
]
