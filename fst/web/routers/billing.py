"""Payment: credits bought through Stripe Checkout, granted by the signature-verified webhook.

The webhook is idempotent by event id (a `stripe_events` row, inserted in the same transaction
as the credit grant): Stripe redelivers events, and a redelivery must not grant twice. Without
Stripe keys in the environment the site runs in free mode and these routes answer 404.
"""

from __future__ import annotations

import logging

import stripe
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fst.web.db import StripeEvent, User
from fst.web.deps import CurrentUser, DbSession, services
from fst.web.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["billing"])


class CheckoutOut(BaseModel):
    url: str


def checkout_url(settings: Settings, user: User, base_url: str) -> str:
    """Create a Stripe Checkout session for one pack of credits and return its payment page."""
    if not settings.billing_enabled:
        raise HTTPException(status_code=404, detail="payments are off: this site runs in free mode")
    checkout = stripe.checkout.Session.create(
        api_key=settings.stripe_secret_key,
        mode="payment",
        line_items=[
            {
                "quantity": 1,
                "price_data": {
                    "currency": settings.currency,
                    "unit_amount": settings.price_cents,
                    "product_data": {"name": f"{settings.credits_per_purchase} stylizations"},
                },
            }
        ],
        client_reference_id=str(user.id),
        customer_email=user.email,
        # What to grant is fixed here, server-side; the webhook reads it back from Stripe's event.
        metadata={"user_id": str(user.id), "credits": str(settings.credits_per_purchase)},
        success_url=f"{base_url}gallery?paid=1",
        cancel_url=f"{base_url}buy",
    )
    return checkout.url


def grant_for_event(session: Session, event: stripe.Event) -> int:
    """Grant the credits of a paid checkout once; returns the credits granted (0 for a repeat)."""
    if event.type not in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        return 0
    checkout = event.data.object.to_dict()
    if checkout.get("payment_status") != "paid":
        return 0  # an asynchronous payment: granted by its `async_payment_succeeded` event
    metadata = checkout.get("metadata") or {}
    try:
        user_id, credits = int(metadata["user_id"]), int(metadata["credits"])
    except (KeyError, ValueError):
        log.warning("stripe event %s has no fst metadata; ignored", event.id)
        return 0
    try:
        session.add(StripeEvent(id=event.id, user_id=user_id, credits=credits))
        session.flush()  # a second delivery of this event fails here, before any grant
    except IntegrityError:
        session.rollback()
        return 0
    session.execute(update(User).where(User.id == user_id).values(credits=User.credits + credits))
    session.commit()
    return credits


@router.post("/api/billing/checkout")
def api_checkout(request: Request, user: CurrentUser) -> CheckoutOut:
    """Start buying credits: returns the Stripe Checkout page to send the user to."""
    return CheckoutOut(url=checkout_url(services(request).settings, user, str(request.base_url)))


@router.post("/api/stripe/webhook", include_in_schema=False)
async def stripe_webhook(request: Request, session: DbSession) -> dict[str, int]:
    settings = services(request).settings
    if not settings.billing_enabled:
        raise HTTPException(status_code=404, detail="payments are off")
    payload = await request.body()
    try:
        event = stripe.Webhook.construct_event(
            payload, request.headers.get("stripe-signature", ""), settings.stripe_webhook_secret
        )
    except (ValueError, stripe.SignatureVerificationError):
        raise HTTPException(status_code=400, detail="bad signature or payload") from None
    return {"granted": grant_for_event(session, event)}
