"""`expand[]`: replace an id with the object it names, as Stripe does, up to four levels; also
the includable `line_items` of a session and `payments` of an invoice."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from stripe_emulator.objects import list_object
from stripe_emulator.store import Store
from stripe_emulator.wire import JsonObject, StripeError, get_str_list

EXPANDABLE = frozenset(
    {
        "payment_intent",
        "latest_charge",
        "charge",
        "line_items",
        "customer",
        "subscription",
        "invoice",
        "latest_invoice",
        "default_payment_method",
        "payments",
        "payment",
    }
)


def _lookup(store: Store, object_id: str) -> JsonObject | None:
    for prefix, table in (
        ("pi_", store.payment_intents),
        ("ch_", store.charges),
        ("re_", store.refunds),
        ("dp_", store.disputes),
        ("cs_", store.sessions),
        ("cus_", store.customers),
        ("sub_", store.subscriptions),
        ("in_", store.invoices),
        ("pm_", store.payment_methods),
    ):
        if object_id.startswith(prefix):
            return table.get(object_id)
    return None


def _cannot(path: str) -> StripeError:
    return StripeError(400, f"This property cannot be expanded ({path}).", param="expand")


def _expand_path(store: Store, node: JsonObject, parts: list[str], path: str) -> None:
    head, rest = parts[0], parts[1:]
    if head == "data" and node.get("object") == "list":
        if not rest:
            raise _cannot(path)
        for item in node["data"]:
            _expand_path(store, item, rest, path)
        return
    if head not in EXPANDABLE:
        raise _cannot(path)
    if head == "line_items" and node.get("object") == "checkout.session":
        items = store.line_items.get(node["id"], [])
        url = f"/v1/checkout/sessions/{node['id']}/line_items"
        node["line_items"] = list_object(copy.deepcopy(items[:10]), url, len(items) > 10)
    elif head == "payments" and node.get("object") == "invoice":
        # Includable: an invoice shows its invoice payments only when asked to.
        payments = [p for p in store.invoice_payments.values() if p["invoice"] == node["id"]]
        url = f"/v1/invoice_payments?invoice={node['id']}"
        node["payments"] = list_object(copy.deepcopy(payments), url)
    elif head not in node:
        raise _cannot(path)
    elif isinstance(node[head], str):
        found = _lookup(store, node[head])
        if found is not None:
            node[head] = copy.deepcopy(found)
    child = node.get(head)
    if rest and isinstance(child, dict):
        _expand_path(store, child, rest, path)


def expand(store: Store, obj: JsonObject, params: Mapping[str, Any]) -> JsonObject:
    """A copy of `obj` with the `expand[]` paths in `params` expanded."""
    paths = get_str_list(params, "expand")
    result = copy.deepcopy(obj)
    for path in paths:
        parts = path.split(".")
        if len(parts) > 4:
            raise _cannot(path)
        _expand_path(store, result, parts, path)
    return result
