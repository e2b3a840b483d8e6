"""Payment: credits bought through Stripe Checkout, granted once per paid checkout.

A grant is idempotent by Stripe event id (a `stripe_events` row, inserted in the same transaction
as the credit grant): Stripe redelivers events, and a redelivery must not grant twice. Without
Stripe keys the site runs in free mode and there is nothing to buy.
"""

from __future__ import annotations

import logging

import stripe
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fst.web.models import StripeEvent, User
from fst.web.services.errors import NotFound, ServiceError
from fst.web.settings import Settings

log = logging.getLogger(__name__)

PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


def require_billing(settings: Settings) -> None:
    """Raises `NotFound` in free mode: the payment routes do not exist there."""
    if not settings.billing_enabled:
        raise NotFound("payments are off: this site runs in free mode")


def checkout_url(settings: Settings, user: User, base_url: str) -> str:
    """Create a Stripe Checkout session for one pack of credits and return its payment page."""
    require_billing(settings)
    try:
        checkout = _create_checkout(settings, user, base_url)
    except stripe.StripeError as error:  # Stripe down, a network error, a key revoked: nothing was charged
        log.error("stripe checkout failed: %s", error)
        raise ServiceError(
            "the payment service did not answer; nothing was charged. Please try again in a minute.", status=502
        ) from None
    return checkout.url


def _create_checkout(settings: Settings, user: User, base_url: str) -> stripe.checkout.Session:
    return stripe.checkout.Session.create(
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


def verified_event(settings: Settings, payload: bytes, signature: str) -> stripe.Event:
    """The webhook's event, if Stripe signed it with our secret; raises `ServiceError` (400) if not."""
    require_billing(settings)
    try:
        return stripe.Webhook.construct_event(payload, signature, settings.stripe_webhook_secret)
    except (ValueError, stripe.SignatureVerificationError):
        raise ServiceError("bad signature or payload") from None


def grant_for_event(session: Session, event: stripe.Event) -> int:
    """Grant the credits of a paid checkout once; returns the credits granted (0 for a repeat)."""
    grant = _paid_grant(event)
    if grant is None:
        return 0
    user_id, credits = grant
    try:
        session.add(StripeEvent(id=event.id, user_id=user_id, credits=credits))
        session.flush()  # a second delivery of this event fails here, before any grant
    except IntegrityError:
        session.rollback()
        return 0
    session.execute(update(User).where(User.id == user_id).values(credits=User.credits + credits))
    session.commit()
    return credits


def _paid_grant(event: stripe.Event) -> tuple[int, int] | None:
    """(user id, credits) of a paid checkout event; None for any other event."""
    if event.type not in PAID_EVENTS:
        return None
    checkout = event.data.object.to_dict()
    if checkout.get("payment_status") != "paid":
        return None  # an asynchronous payment: granted by its `async_payment_succeeded` event
    metadata = checkout.get("metadata") or {}
    try:
        return int(metadata["user_id"]), int(metadata["credits"])
    except (KeyError, ValueError):
        log.warning("stripe event %s has no fst metadata; ignored", event.id)
        return None
