"""The routing table: which contracts event goes to which handler."""

from __future__ import annotations

from skileez_events import ContractActivated, ContractCancelled, ContractCreated, Subscription
from skileez_scheduling.service_layer.contract_events import (
    contract_activated,
    contract_cancelled,
    contract_created,
)

CONTRACT_EVENTS = [
    Subscription(ContractCreated, contract_created),
    Subscription(ContractActivated, contract_activated),
    Subscription(ContractCancelled, contract_cancelled),
]
