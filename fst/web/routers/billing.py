"""Payment routes: start a Stripe Checkout, and Stripe's signature-verified webhook. Without Stripe
keys the site runs in free mode and both answer 404. The rules are in `fst.web.services.billing`."""

from __future__ import annotations

from fastapi import APIRouter, Request

from fst.web.deps import AppSettings, CurrentUser, DbSession, ReleasingRoute
from fst.web.schemas import CheckoutOut
from fst.web.services import billing

router = APIRouter(tags=["billing"], route_class=ReleasingRoute)


@router.post("/api/billing/checkout")
def api_checkout(request: Request, settings: AppSettings, user: CurrentUser) -> CheckoutOut:
    """Start buying credits: returns the Stripe Checkout page to send the user to."""
    return CheckoutOut(url=billing.checkout_url(settings, user, str(request.base_url)))


@router.post("/api/stripe/webhook", include_in_schema=False)
async def stripe_webhook(request: Request, session: DbSession, settings: AppSettings) -> dict[str, int]:
    billing.require_billing(settings)  # before reading the body
    signature = request.headers.get("stripe-signature", "")
    event = billing.verified_event(settings, await request.body(), signature)
    return {"granted": billing.grant_for_event(session, event)}
