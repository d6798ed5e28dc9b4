"""The hosted page is usable HTML: labelled, escaped, with a way back to the merchant."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import stripe


async def _html(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        return await response.text()


async def test_page_is_accessible_and_links_back(client: stripe.StripeClient, params: Any) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    assert session.url is not None
    html = await _html(session.url)
    assert '<html lang="en">' in html
    assert "<h1>" in html
    assert '<label class="field" for="email">' in html
    assert html.count('type="radio"') == 4
    assert html.count('<label class="choice">') == 4
    assert '<a href="https://app.example/contracts/contract-123/payment-cancel">' in html
    assert "Pay €120.00" in html
    assert "student@example.com" in html


async def test_product_names_are_escaped(client: stripe.StripeClient, params: Any) -> None:
    session = await client.v1.checkout.sessions.create_async(
        params(
            line_items=[
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 1999,
                        "product_data": {"name": "<script>alert(1)</script>"},
                    },
                    "quantity": 1,
                }
            ]
        )
    )
    assert session.url is not None
    html = await _html(session.url)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "$19.99" in html


def _line(quantity: int, unit_amount: int, **product: str) -> dict[str, Any]:
    return {
        "price_data": {
            "currency": "eur",
            "unit_amount": unit_amount,
            "product_data": {"name": "Interview coaching", **product},
        },
        "quantity": quantity,
    }


async def test_a_line_shows_its_quantity_in_its_unit_and_the_price_of_one(
    client: stripe.StripeClient, params: Any
) -> None:
    session = await client.v1.checkout.sessions.create_async(
        params(line_items=[_line(4, 4500, unit_label="session")])
    )
    assert session.url is not None
    html = await _html(session.url)
    assert "Interview coaching" in html
    assert "4 sessions \N{MULTIPLICATION SIGN} €45.00" in html
    assert 'id="total">€180.00<' in html
    assert "Qty" not in html
    items = await client.v1.checkout.sessions.line_items.list_async(session.id)
    assert [(item.quantity, item.amount_total) for item in items.data] == [(4, 18_000)]

    unlabelled = await client.v1.checkout.sessions.create_async(params(line_items=[_line(2, 500)]))
    assert unlabelled.url is not None
    assert "2 \N{MULTIPLICATION SIGN} €5.00" in await _html(unlabelled.url)


async def test_a_unit_label_longer_than_stripe_takes_is_refused(
    client: stripe.StripeClient, params: Any
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.checkout.sessions.create_async(
            params(line_items=[_line(1, 500, unit_label="thirteen char")])
        )
    assert refused.value.param == "line_items[0][price_data][product_data][unit_label]"


async def test_unknown_session_page_is_404(emulator: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{emulator}/c/pay/cs_test_x") as r:
        assert r.status == 404


async def test_paid_session_page_offers_no_second_payment(
    client: stripe.StripeClient, params: Any
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    assert session.url is not None
    async with aiohttp.ClientSession() as http:
        async with http.post(
            session.url, data={"method": "card_success"}, allow_redirects=False
        ) as r:
            assert r.status == 303
        async with http.post(
            session.url, data={"method": "card_success"}, allow_redirects=False
        ) as again:
            assert again.status == 409
            assert "has been paid" in await again.text()
    charges = await client.v1.charges.list_async()
    assert len(charges.data) == 1
