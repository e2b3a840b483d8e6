"""Stripe: Checkout sessions, the signature-verified webhook granting credits once per event."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from types import SimpleNamespace

import stripe

from tests.web.conftest import WEBHOOK_SECRET, register


def signed(payload: str, secret: str = WEBHOOK_SECRET, at: int | None = None) -> dict[str, str]:
    """Stripe's documented scheme: v1 = HMAC-SHA256(secret, "<t>.<payload>")."""
    at = at or int(time.time())
    signature = hmac.new(secret.encode(), f"{at}.{payload}".encode(), hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={at},v1={signature}", "Content-Type": "application/json"}


def checkout_event(event_id: str, user_id: int, credits: int = 20, paid: str = "paid") -> str:
    checkout = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "payment_status": paid,
        "client_reference_id": str(user_id),
        "metadata": {"user_id": str(user_id), "credits": str(credits)},
    }
    event = {"id": event_id, "object": "event", "type": "checkout.session.completed", "data": {"object": checkout}}
    return json.dumps(event)


def credits(client) -> int:
    return client.get("/api/auth/me").json()["credits"]


def test_webhook_grants_credits_once_per_event(client) -> None:
    register(client)
    payload = checkout_event("evt_1", user_id=1)
    for _ in range(3):  # Stripe redelivers: only the first delivery grants
        response = client.post("/api/stripe/webhook", content=payload, headers=signed(payload))
        assert response.status_code == 200, response.text
    assert credits(client) == 3 + 20
    other = checkout_event("evt_2", user_id=1, credits=20)
    assert client.post("/api/stripe/webhook", content=other, headers=signed(other)).json() == {"granted": 20}
    assert credits(client) == 43


def test_webhook_rejects_bad_signatures(client) -> None:
    register(client)
    payload = checkout_event("evt_forged", user_id=1, credits=1000)
    forged = signed(payload, secret="whsec_someone_elses")
    assert client.post("/api/stripe/webhook", content=payload, headers=forged).status_code == 400
    assert client.post("/api/stripe/webhook", content=payload).status_code == 400  # unsigned
    stale = signed(payload, at=int(time.time()) - 3600)  # a replay outside Stripe's tolerance
    assert client.post("/api/stripe/webhook", content=payload, headers=stale).status_code == 400
    tampered = payload.replace('"1000"', '"100000"')
    assert client.post("/api/stripe/webhook", content=tampered, headers=signed(payload)).status_code == 400
    assert credits(client) == 3


def test_unpaid_checkout_grants_nothing(client) -> None:
    register(client)
    payload = checkout_event("evt_unpaid", user_id=1, paid="unpaid")
    assert client.post("/api/stripe/webhook", content=payload, headers=signed(payload)).json() == {"granted": 0}
    assert credits(client) == 3


def test_buy_form_redirects_to_stripe_checkout(client, monkeypatch) -> None:
    created = {}

    def fake_create(**params):
        created.update(params)
        return SimpleNamespace(url="https://checkout.stripe.com/c/pay/cs_test_1")

    monkeypatch.setattr(stripe.checkout.Session, "create", fake_create)
    register(client)
    page = client.get("/buy").text
    assert "Buy 20 for 5.00 EUR" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/buy", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("https://checkout.stripe.com/")
    assert created["metadata"] == {"user_id": "1", "credits": "20"} and created["mode"] == "payment"
    assert created["api_key"] == "sk_test_not_used_offline"
    assert client.post("/api/billing/checkout").json()["url"].startswith("https://checkout.stripe.com/")


def test_free_mode_has_no_payment_routes(free_client) -> None:
    register(free_client)
    assert free_client.post("/api/billing/checkout").status_code == 404
    payload = checkout_event("evt_free", user_id=1)
    assert free_client.post("/api/stripe/webhook", content=payload, headers=signed(payload)).status_code == 404
