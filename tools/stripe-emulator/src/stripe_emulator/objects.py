"""Stripe objects built from Stripe's published fixtures, so field sets match the real API.

Each builder deep-copies the fixture and only *sets* fields; `_fill` refuses a key the
fixture does not have, so an emulator object can never grow or lose a field by accident.
The fixtures carry placeholder values (e.g. `last_payment_error.type: idempotency_error`);
builders overwrite every such field with what Stripe returns for these flows.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
from functools import cache
from importlib import resources
from typing import Any

from stripe_emulator.wire import JsonObject

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """An id shaped like Stripe's: `pi_3Pxyz...`."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


@cache
def _fixtures() -> dict[str, JsonObject]:
    text = resources.files("stripe_emulator").joinpath("fixtures3.json").read_text("utf-8")
    loaded: dict[str, JsonObject] = json.loads(text)["resources"]
    return loaded


def fixture(name: str) -> JsonObject:
    """A fresh deep copy of Stripe's example object for resource `name`."""
    return copy.deepcopy(_fixtures()[name])


def _fill(obj: JsonObject, **values: Any) -> JsonObject:
    for key, value in values.items():
        if key not in obj:
            raise KeyError(f"{obj.get('object')} has no field {key!r} in Stripe's fixture")
        obj[key] = value
    return obj


def _nulls(obj: JsonObject) -> JsonObject:
    return {key: None for key in obj}


def _empty_address() -> JsonObject:
    return _nulls(fixture("charge")["billing_details"]["address"])


def list_object(data: list[JsonObject], url: str, has_more: bool = False) -> JsonObject:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def build_product(
    *, name: str, description: str | None, unit_label: str | None, created: int
) -> JsonObject:
    """The product Stripe makes of a line item's `price_data[product_data]`."""
    return _fill(
        fixture("product"),
        active=False,
        created=created,
        default_price=None,
        description=description,
        id=new_id("prod_", 14),
        images=[],
        marketing_features=[],
        metadata={},
        name=name,
        package_dimensions=None,
        shippable=None,
        unit_label=unit_label,
        updated=created,
        type="service",
    )


def build_line_item(*, price: JsonObject, quantity: int, description: str) -> JsonObject:
    """A Checkout Session's line item for `quantity` of `price`."""
    total = price["unit_amount"] * quantity
    return _fill(
        fixture("item"),
        amount_discount=0,
        amount_subtotal=total,
        amount_tax=0,
        amount_total=total,
        currency=price["currency"],
        description=description,
        id=new_id("li_"),
        price=copy.deepcopy(price),
        quantity=quantity,
        metadata={},
        adjustable_quantity=None,
    )


def build_checkout_session(
    *,
    session_id: str,
    created: int,
    expires_at: int,
    currency: str,
    amount_total: int,
    url: str,
    success_url: str | None,
    cancel_url: str | None,
    client_reference_id: str | None,
    customer_email: str | None,
    customer: str | None,
    metadata: dict[str, str],
    mode: str,
) -> JsonObject:
    """An open session: `payment` mode pays once; `subscription` mode starts a subscription."""
    session = fixture("checkout.session")
    invoice_data = _nulls(session["invoice_creation"]["invoice_data"])
    invoice_data["metadata"] = {}
    subscription = mode == "subscription"
    return _fill(
        session,
        after_expiration=None,
        allow_promotion_codes=None,
        amount_subtotal=amount_total,
        amount_total=amount_total,
        automatic_tax={"enabled": False, "liability": None, "status": None, "provider": None},
        billing_address_collection=None,
        cancel_url=cancel_url,
        client_reference_id=client_reference_id,
        client_secret=None,
        consent=None,
        consent_collection=None,
        created=created,
        currency=currency,
        custom_fields=[],
        custom_text=_nulls(session["custom_text"]),
        customer=customer,
        customer_creation=None if customer else "always" if subscription else "if_required",
        customer_details=None,
        customer_email=customer_email,
        expires_at=expires_at,
        id=session_id,
        invoice=None,
        invoice_creation=None if subscription else {"enabled": False, "invoice_data": invoice_data},
        livemode=False,
        locale=None,
        metadata=metadata,
        mode=mode,
        payment_intent=None,
        payment_link=None,
        payment_method_collection="always" if subscription else "if_required",
        payment_method_configuration_details=None,
        payment_method_options={"card": {"request_three_d_secure": "automatic"}},
        payment_method_types=["card"] if subscription else ["card", "sepa_debit"],
        payment_status="unpaid",
        phone_number_collection={"enabled": False},
        recovered_from=None,
        saved_payment_method_options=None,
        setup_intent=None,
        shipping_address_collection=None,
        shipping_cost=None,
        shipping_options=[],
        status="open",
        submit_type=None,
        subscription=None,
        success_url=success_url,
        total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        ui_mode="hosted",
        url=url,
        adaptive_pricing={"enabled": False},
        discounts=[],
        collected_information=None,
        permissions=None,
        wallet_options=None,
        origin_context=None,
        currency_conversion=None,
        customer_account=None,
        integration_identifier=None,
        managed_payments={"enabled": False},
    )


def customer_details(email: str | None) -> JsonObject:
    details = fixture("checkout.session")["customer_details"]
    return _fill(
        details,
        address=_empty_address(),
        email=email,
        name=None,
        phone=None,
        tax_exempt="none",
        tax_ids=[],
        business_name=None,
        individual_name=None,
    )


def build_payment_intent(
    *,
    created: int,
    amount: int,
    currency: str,
    metadata: dict[str, str],
    receipt_email: str | None,
    payment_method_types: list[str],
) -> JsonObject:
    intent = fixture("payment_intent")
    intent_id = new_id("pi_")
    return _fill(
        intent,
        amount=amount,
        amount_capturable=0,
        amount_details={"tip": {}},
        amount_received=0,
        application=None,
        application_fee_amount=None,
        automatic_payment_methods=None,
        canceled_at=None,
        cancellation_reason=None,
        capture_method="automatic_async",
        client_secret=f"{intent_id}_secret_{new_id('', 25)}",
        confirmation_method="automatic",
        created=created,
        currency=currency,
        customer=None,
        description=None,
        id=intent_id,
        last_payment_error=None,
        latest_charge=None,
        livemode=False,
        metadata=metadata,
        next_action=None,
        on_behalf_of=None,
        payment_method=None,
        payment_method_configuration_details=None,
        payment_method_options={},
        payment_method_types=payment_method_types,
        processing=None,
        receipt_email=receipt_email,
        review=None,
        setup_future_usage=None,
        shipping=None,
        statement_descriptor=None,
        statement_descriptor_suffix=None,
        status="requires_payment_method",
        transfer_data=None,
        transfer_group=None,
        source=None,
        excluded_payment_method_types=None,
        customer_account=None,
        managed_payments=None,
    )


# The payment methods the hosted page offers, as Stripe's test cards and a SEPA debit.
CARDS = {
    "card_success": {"last4": "4242", "brand": "visa", "funding": "credit"},
    "card_decline": {"last4": "0002", "brand": "visa", "funding": "credit"},
    # 4000 0027 6000 3184: every payment needs 3-D Secure (passed on a page, not off-session).
    "card_authentication": {"last4": "3184", "brand": "visa", "funding": "credit"},
    # 4000 0000 0000 0341: attaching to a customer succeeds, every charge is declined.
    "card_decline_after_attach": {"last4": "0341", "brand": "visa", "funding": "credit"},
}


def _card_details(last4: str, amount: int) -> JsonObject:
    card = fixture("charge")["payment_method_details"]["card"]
    checks = _fill(
        card["checks"], address_line1_check=None, address_postal_code_check=None, cvc_check="pass"
    )
    return _fill(
        card,
        amount_authorized=amount,
        brand="visa",
        checks=checks,
        country="US",
        exp_month=12,
        exp_year=2034,
        fingerprint=new_id("", 16),
        funding="credit",
        installments=None,
        last4=last4,
        mandate=None,
        network="visa",
        network_token={"used": False},
        overcapture={"maximum_amount_capturable": amount, "status": "unavailable"},
        three_d_secure=None,
        wallet=None,
        authorization_code=None,
        regulated_status="unregulated",
        network_transaction_id=new_id("", 15),
    )


def payment_method_details(kind: str, amount: int) -> JsonObject:
    """One of the CARDS or `sepa_debit`."""
    if kind in CARDS:
        return {"card": _card_details(CARDS[kind]["last4"], amount), "type": "card"}
    return {
        "sepa_debit": {
            "bank_code": "37040044",
            "branch_code": None,
            "country": "DE",
            "fingerprint": new_id("", 16),
            "last4": "3000",
            "mandate": new_id("mandate_"),
        },
        "type": "sepa_debit",
    }


def build_charge(
    *,
    created: int,
    intent: JsonObject,
    status: str,
    details: JsonObject,
    payment_method: str,
    email: str | None,
    failure: tuple[str, str, str] | None = None,
) -> JsonObject:
    """A charge for `intent`; `failure` is (failure_code, message, decline_code)."""
    charge = fixture("charge")
    charge_id = new_id("ch_")
    succeeded = status == "succeeded"
    outcome = fixture("charge")["outcome"]
    if failure is None:
        _fill(
            outcome,
            advice_code=None,
            network_advice_code=None,
            network_decline_code=None,
            network_status="approved_by_network",
            reason=None,
            seller_message="Payment complete.",
            type="authorized",
        )
    else:
        _fill(
            outcome,
            advice_code="try_again_later",
            network_advice_code=None,
            network_decline_code="05",
            network_status="declined_by_network",
            reason=failure[2],
            seller_message="The bank did not return any further details with this decline.",
            type="issuer_declined",
        )
    billing = fixture("charge")["billing_details"]
    _fill(billing, address=_empty_address(), email=email, name=None, phone=None, tax_id=None)
    return _fill(
        charge,
        amount=intent["amount"],
        amount_captured=intent["amount"] if succeeded else 0,
        amount_refunded=0,
        application=None,
        application_fee=None,
        application_fee_amount=None,
        balance_transaction=new_id("txn_") if succeeded else None,
        billing_details=billing,
        calculated_statement_descriptor="SKILEEZ EMULATOR",
        captured=succeeded,
        created=created,
        currency=intent["currency"],
        customer=None,
        description=None,
        disputed=False,
        failure_balance_transaction=None,
        failure_code=failure[0] if failure else None,
        failure_message=failure[1] if failure else None,
        fraud_details={},
        id=charge_id,
        livemode=False,
        metadata=dict(intent["metadata"]),
        on_behalf_of=None,
        outcome=outcome if status != "pending" else None,
        paid=succeeded,
        payment_intent=intent["id"],
        payment_method=payment_method,
        payment_method_details=details,
        receipt_email=email,
        receipt_number=None,
        receipt_url=None,
        refunded=False,
        refunds=list_object([], f"/v1/charges/{charge_id}/refunds"),
        review=None,
        shipping=None,
        source_transfer=None,
        statement_descriptor=None,
        statement_descriptor_suffix=None,
        status=status,
        transfer_data=None,
        transfer_group=None,
        source=None,
    )


def build_refund(
    *,
    created: int,
    charge: JsonObject,
    amount: int,
    reason: str | None,
    metadata: dict[str, str],
) -> JsonObject:
    refund = fixture("refund")
    card = charge["payment_method_details"]["type"] == "card"
    return _fill(
        refund,
        amount=amount,
        balance_transaction=new_id("txn_"),
        charge=charge["id"],
        created=created,
        currency=charge["currency"],
        destination_details=(
            {"card": {"type": "refund"}, "type": "card"} if card else {"type": "sepa_debit"}
        ),
        id=new_id("re_"),
        metadata=metadata,
        payment_intent=charge["payment_intent"],
        reason=reason,
        receipt_number=None,
        source_transfer_reversal=None,
        status="succeeded",
        transfer_reversal=None,
        customer=None,
        customer_account=None,
        payment_method=charge["payment_method"],
    )


def build_dispute(
    *, created: int, charge: JsonObject, amount: int, reason: str, due_by: int
) -> JsonObject:
    dispute = fixture("dispute")
    evidence = _nulls(dispute["evidence"])
    evidence["enhanced_evidence"] = {}
    card = charge["payment_method_details"].get("card")
    details: JsonObject
    if card is not None:
        details = {
            "card": {
                "brand": card["brand"],
                "case_type": "chargeback",
                "network_reason_code": "10.4",
                "network": card["network"],
            },
            "type": "card",
        }
    else:
        details = {"type": charge["payment_method_details"]["type"]}
    return _fill(
        dispute,
        amount=amount,
        balance_transactions=[],
        charge=charge["id"],
        created=created,
        currency=charge["currency"],
        evidence=evidence,
        evidence_details={
            "due_by": due_by,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
            "enhanced_eligibility": {},
        },
        id=new_id("dp_"),
        is_charge_refundable=False,
        livemode=False,
        metadata={},
        payment_intent=charge["payment_intent"],
        payment_method_details=details,
        reason=reason,
        status="needs_response",
        enhanced_eligibility_types=[],
    )


def build_balance_transaction(
    *,
    created: int,
    amount: int,
    fee: int,
    currency: str,
    description: str,
    source: str,
    reporting_category: str,
) -> JsonObject:
    """A balance transaction moving `amount` (negative: taken) plus a Stripe `fee`."""
    fee_details = (
        [
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": "Dispute fee",
                "type": "stripe_fee",
            }
        ]
        if fee
        else []
    )
    return _fill(
        fixture("balance_transaction"),
        amount=amount,
        available_on=created + 86_400,
        created=created,
        currency=currency,
        description=description,
        exchange_rate=None,
        fee=fee,
        fee_details=fee_details,
        id=new_id("txn_"),
        net=amount - fee,
        reporting_category=reporting_category,
        source=source,
        status="pending",
        type="adjustment",
        balance_type="payments",
    )


def build_webhook_endpoint(
    *,
    created: int,
    url: str,
    enabled_events: list[str],
    description: str | None,
    metadata: dict[str, str],
    api_version: str | None,
) -> JsonObject:
    return _fill(
        fixture("webhook_endpoint"),
        api_version=api_version,
        application=None,
        created=created,
        description=description,
        enabled_events=enabled_events,
        id=new_id("we_"),
        livemode=False,
        metadata=metadata,
        status="enabled",
        url=url,
    )


def build_event(
    *,
    created: int,
    event_type: str,
    data_object: JsonObject,
    previous_attributes: JsonObject | None,
    api_version: str,
    request_id: str | None,
    idempotency_key: str | None,
    pending_webhooks: int,
) -> JsonObject:
    data: JsonObject = {"object": copy.deepcopy(data_object)}
    if previous_attributes is not None:
        data["previous_attributes"] = copy.deepcopy(previous_attributes)
    return _fill(
        fixture("event"),
        api_version=api_version,
        created=created,
        data=data,
        id=new_id("evt_"),
        livemode=False,
        pending_webhooks=pending_webhooks,
        request={"id": request_id, "idempotency_key": idempotency_key},
        type=event_type,
    )


def build_price(
    *,
    currency: str,
    unit_amount: int,
    product: str,
    recurring: JsonObject | None,
    created: int,
) -> JsonObject:
    """A price made from `price_data`: `one_time`, or `recurring` ({interval, interval_count})."""
    return _fill(
        fixture("price"),
        active=False,
        billing_scheme="per_unit",
        created=created,
        currency=currency,
        custom_unit_amount=None,
        id=new_id("price_"),
        livemode=False,
        lookup_key=None,
        metadata={},
        nickname=None,
        product=product,
        recurring=None
        if recurring is None
        else {
            "interval": recurring["interval"],
            "interval_count": recurring["interval_count"],
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        },
        tax_behavior="unspecified",
        tiers_mode=None,
        transform_quantity=None,
        type="one_time" if recurring is None else "recurring",
        unit_amount=unit_amount,
        unit_amount_decimal=str(unit_amount),
    )


def build_customer(
    *,
    created: int,
    email: str | None,
    name: str | None,
    description: str | None,
    metadata: dict[str, str],
    test_clock: str | None,
) -> JsonObject:
    invoice_settings = fixture("customer")["invoice_settings"]
    return _fill(
        fixture("customer"),
        address=None,
        balance=0,
        created=created,
        currency=None,
        default_source=None,
        delinquent=False,
        description=description,
        discount=None,
        email=email,
        id=new_id("cus_", 14),
        invoice_prefix=secrets.token_hex(4).upper(),
        invoice_settings=_fill(
            invoice_settings,
            custom_fields=None,
            default_payment_method=None,
            footer=None,
            rendering_options=None,
        ),
        livemode=False,
        metadata=metadata,
        name=name,
        next_invoice_sequence=1,
        phone=None,
        preferred_locales=[],
        shipping=None,
        tax_exempt="none",
        test_clock=test_clock,
    )


def build_payment_method(
    *, kind: str, created: int, customer: str, email: str | None
) -> JsonObject:
    """A saved test card (`card_success`, `card_authentication`, ...) attached to `customer`."""
    method = fixture("payment_method")
    card = method["card"]
    _fill(
        card,
        brand="visa",
        checks=_fill(
            card["checks"],
            address_line1_check=None,
            address_postal_code_check=None,
            cvc_check="pass",
        ),
        country="US",
        display_brand="visa",
        exp_month=12,
        exp_year=2034,
        fingerprint=new_id("", 16),
        funding="credit",
        generated_from=None,
        last4=CARDS[kind]["last4"],
        networks={"available": ["visa"], "preferred": None},
        three_d_secure_usage={"supported": True},
        wallet=None,
        regulated_status="unregulated",
    )
    billing = method["billing_details"]
    _fill(billing, address=_empty_address(), email=email, name=None, phone=None, tax_id=None)
    return _fill(
        method,
        allow_redisplay="always",
        billing_details=billing,
        card=card,
        created=created,
        customer=customer,
        id=new_id("pm_"),
        livemode=False,
        metadata={},
        type="card",
        customer_account=None,
    )


def _plan(price: JsonObject) -> JsonObject:
    """The legacy `plan` view of a recurring price, which subscription items still carry."""
    return _fill(
        fixture("plan"),
        active=price["active"],
        amount=price["unit_amount"],
        amount_decimal=price["unit_amount_decimal"],
        billing_scheme="per_unit",
        created=price["created"],
        currency=price["currency"],
        id=price["id"],
        interval=price["recurring"]["interval"],
        interval_count=price["recurring"]["interval_count"],
        livemode=False,
        metadata={},
        meter=None,
        nickname=None,
        product=price["product"],
        tiers_mode=None,
        transform_usage=None,
        trial_period_days=None,
        usage_type="licensed",
    )


def build_subscription_item(
    *,
    created: int,
    subscription: str,
    price: JsonObject,
    quantity: int,
    period_start: int,
    period_end: int,
) -> JsonObject:
    return _fill(
        fixture("subscription_item"),
        created=created,
        discounts=[],
        id=new_id("si_", 14),
        metadata={},
        price=copy.deepcopy(price),
        quantity=quantity,
        subscription=subscription,
        tax_rates=[],
        plan=_plan(price),
        current_period_end=period_end,
        current_period_start=period_start,
        billing_thresholds=None,
    )


def build_subscription(
    *,
    subscription_id: str,
    created: int,
    customer: JsonObject,
    currency: str,
    items: list[JsonObject],
    default_payment_method: str | None,
    description: str | None,
    metadata: dict[str, str],
) -> JsonObject:
    """A new subscription (`incomplete` until its first invoice is paid); periods are on items."""
    subscription = fixture("subscription")
    invoice_settings = _fill(
        subscription["invoice_settings"],
        account_tax_ids=None,
        issuer={"type": "self"},
        custom_fields=None,
        description=None,
        footer=None,
    )
    return _fill(
        subscription,
        application=None,
        application_fee_percent=None,
        automatic_tax={"enabled": False, "liability": None, "disabled_reason": None},
        billing_cycle_anchor=created,
        billing_cycle_anchor_config=None,
        cancel_at=None,
        canceled_at=None,
        cancellation_details={"comment": None, "feedback": None, "reason": None},
        collection_method="charge_automatically",
        created=created,
        currency=currency,
        customer=customer["id"],
        days_until_due=None,
        default_payment_method=default_payment_method,
        default_source=None,
        default_tax_rates=[],
        description=description,
        discounts=[],
        ended_at=None,
        id=subscription_id,
        invoice_settings=invoice_settings,
        items=list_object(items, f"/v1/subscription_items?subscription={subscription_id}"),
        latest_invoice=None,
        livemode=False,
        metadata=metadata,
        next_pending_invoice_item_invoice=None,
        on_behalf_of=None,
        pause_collection=None,
        payment_settings={
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        pending_invoice_item_interval=None,
        pending_setup_intent=None,
        pending_update=None,
        schedule=None,
        start_date=created,
        status="incomplete",
        test_clock=customer["test_clock"],
        transfer_data=None,
        trial_end=None,
        trial_settings={"end_behavior": {"missing_payment_method": "create_invoice"}},
        trial_start=None,
        cancel_at_period_end=False,
        billing_thresholds=None,
        billing_mode={"type": "classic", "flexible": None},
        customer_account=None,
        managed_payments={"enabled": False},
        billing_schedules=[],
    )


def build_invoice_line(
    *,
    invoice: str,
    subscription: str,
    price: JsonObject,
    quantity: int,
    description: str,
    period: JsonObject,
    subscription_item: str | None,
) -> JsonObject:
    """A line of a subscription invoice: a subscription item for one period, or (without one) a
    one-time price Checkout adds to the first invoice as an invoice item."""
    amount = price["unit_amount"] * quantity
    details = {
        "invoice_item": None if subscription_item else new_id("ii_"),
        "proration": False,
        "proration_details": {"credited_items": None},
        "subscription": subscription,
    }
    if subscription_item:
        parent = {
            "invoice_item_details": None,
            "subscription_item_details": {**details, "subscription_item": subscription_item},
            "type": "subscription_item_details",
        }
    else:
        parent = {
            "invoice_item_details": details,
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    return _fill(
        fixture("line_item"),
        amount=amount,
        currency=price["currency"],
        description=description,
        discount_amounts=[],
        discountable=True,
        discounts=[],
        id=new_id("il_"),
        invoice=invoice,
        livemode=False,
        metadata={},
        period=period,
        quantity=quantity,
        subscription=subscription,
        pretax_credit_amounts=[],
        taxes=[],
        parent=parent,
        pricing={
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        subtotal=amount,
        quantity_decimal=str(quantity),
    )


def build_invoice(
    *,
    invoice_id: str,
    created: int,
    customer: JsonObject,
    subscription: JsonObject,
    lines: list[JsonObject],
    billing_reason: str,
    period_start: int,
    period_end: int,
) -> JsonObject:
    """A draft subscription invoice; `period_start/end` are Stripe's (the period just ended)."""
    total = sum(line["amount"] for line in lines)
    return _fill(
        fixture("invoice"),
        account_country="US",
        account_name="Skileez emulator",
        account_tax_ids=None,
        amount_due=total,
        amount_paid=0,
        amount_remaining=total,
        amount_shipping=0,
        application=None,
        attempt_count=0,
        attempted=False,
        auto_advance=True,
        automatic_tax={
            "enabled": False,
            "liability": None,
            "status": None,
            "disabled_reason": None,
            "provider": None,
        },
        billing_reason=billing_reason,
        collection_method="charge_automatically",
        created=created,
        currency=subscription["currency"],
        custom_fields=None,
        customer=customer["id"],
        customer_address=None,
        customer_email=customer["email"],
        customer_name=customer["name"],
        customer_phone=None,
        customer_shipping=None,
        customer_tax_exempt="none",
        customer_tax_ids=[],
        default_payment_method=None,
        default_source=None,
        default_tax_rates=[],
        description=None,
        discounts=[],
        due_date=None,
        effective_at=None,
        ending_balance=None,
        footer=None,
        from_invoice=None,
        hosted_invoice_url=None,
        id=invoice_id,
        invoice_pdf=None,
        issuer={"type": "self"},
        last_finalization_error=None,
        latest_revision=None,
        lines=list_object(lines, f"/v1/invoices/{invoice_id}/lines"),
        livemode=False,
        metadata={},
        next_payment_attempt=None,
        number=None,
        on_behalf_of=None,
        payment_settings={
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        period_end=period_end,
        period_start=period_start,
        post_payment_credit_notes_amount=0,
        pre_payment_credit_notes_amount=0,
        receipt_number=None,
        rendering=None,
        shipping_cost=None,
        shipping_details=None,
        starting_balance=0,
        statement_descriptor=None,
        status="draft",
        status_transitions={
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        subscription=subscription["id"],
        subtotal=total,
        subtotal_excluding_tax=total,
        test_clock=customer["test_clock"],
        total=total,
        total_discount_amounts=[],
        total_excluding_tax=total,
        webhooks_delivered_at=None,
        automatically_finalizes_at=created,
        total_pretax_credit_amounts=[],
        total_taxes=[],
        amount_overpaid=0,
        parent={
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(subscription["metadata"]),
                "subscription": subscription["id"],
            },
            "type": "subscription_details",
        },
        customer_account=None,
    )


def build_invoice_payment(*, created: int, invoice: JsonObject, payment_intent: str) -> JsonObject:
    """The link between an invoice and the PaymentIntent that pays it (`status` open until paid)."""
    return _fill(
        fixture("invoice_payment"),
        amount_paid=None,
        amount_requested=invoice["amount_due"],
        created=created,
        currency=invoice["currency"],
        id=new_id("inpay_"),
        invoice=invoice["id"],
        is_default=True,
        livemode=False,
        payment={"payment_intent": payment_intent, "type": "payment_intent"},
        status="open",
        status_transitions={"canceled_at": None, "paid_at": None},
    )


def build_test_clock(*, created: int, frozen_time: int, name: str | None) -> JsonObject:
    return _fill(
        fixture("test_helpers.test_clock"),
        created=created,
        deletes_after=created + 30 * 86_400,
        frozen_time=frozen_time,
        id=new_id("clock_"),
        livemode=False,
        name=name,
        status="ready",
        status_details={},
    )


def build_portal_session(
    *, created: int, customer: str, return_url: str | None, url: str, session_id: str
) -> JsonObject:
    return _fill(
        fixture("billing_portal.session"),
        configuration="bpc_emulator_default",
        created=created,
        customer=customer,
        flow=None,
        id=session_id,
        livemode=False,
        locale=None,
        on_behalf_of=None,
        return_url=return_url,
        url=url,
        customer_account=None,
    )
