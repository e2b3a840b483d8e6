"""The HTML pages: server-rendered Jinja2 templates over the same functions as the JSON API.

Every form carries a CSRF token (an HMAC of the browser's CSRF cookie); posts without it are 403.
Pages call the same services as the JSON routers; a refused request re-renders its form with the
reason and the service's status.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from fst.web import mail, styles
from fst.web.deps import (
    AppConnections,
    AppSettings,
    DbSession,
    MaybeUser,
    ReleasingRoute,
    check_csrf,
    client_address,
    confirm_proof,
    confirmed_session,
    end_session,
    read_upload,
    remember_signup,
    start_session,
)
from fst.web.deps import settings as request_settings
from fst.web.models import User
from fst.web.security import CSRF_COOKIE, SESSION_COOKIE, csrf_token
from fst.web.services import account, auth, billing, jobs
from fst.web.services.errors import ServiceError
from fst.web.services.rate_limits import RateLimited
from fst.web.settings import Settings

router = APIRouter(include_in_schema=False, route_class=ReleasingRoute)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
templates.env.filters["display_name"] = styles.display_name

CsrfField = Annotated[str | None, Form(alias="csrf_token")]


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """Render a template with the user, the settings and a CSRF token (setting the CSRF cookie if new)."""
    settings = request_settings(request)
    cookie = request.cookies.get(CSRF_COOKIE)
    fresh = cookie is None
    if fresh:
        cookie = secrets.token_urlsafe(24)
    context = {"settings": settings, "csrf_token": csrf_token(settings.secret_key, cookie), "user": None, **context}
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    if fresh:
        # Secure over HTTPS (as the session cookie): never sent, so never leaked, over plain HTTP.
        secure = settings.secure_cookies or request.url.scheme == "https"
        response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="lax", secure=secure)
    return response


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)  # 303: the browser follows a POST with a GET


def refused(request: Request, name: str, error: ServiceError, context: dict[str, Any]) -> Response:
    """The form again, with the service's reason and status (and when to retry, if rate-limited)."""
    message = f"too many attempts; try again in {error.retry_after} s" if isinstance(error, RateLimited) else str(error)
    response = render(request, name, {**context, "error": message}, error.status)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def style_choices(settings: Settings) -> dict[str, Any]:
    return {
        "styles": styles.shipped_styles(settings.checkpoints_dir),
        "style_image_available": styles.arbitrary_style_checkpoint(settings.checkpoints_dir) is not None,
        # Every painting, labelled (the picker searches the labels).
        "gallery": [
            {"name": name, "title": styles.painting_title(name)}
            for name in styles.gallery_paintings(settings.paintings_dir)
        ],
    }


@router.get("/")
def home(request: Request, user: MaybeUser, settings: AppSettings) -> Response:
    return render(request, "index.html", {"user": user, **style_choices(settings)})


@router.get("/signup")
def signup_page(request: Request, user: MaybeUser) -> Response:
    return render(request, "auth.html", {"user": user, "mode": "signup"})


@router.get("/login")
def login_page(request: Request, user: MaybeUser) -> Response:
    return render(request, "auth.html", {"user": user, "mode": "login"})


@router.post("/signup")
def signup(
    request: Request,
    tasks: BackgroundTasks,
    session: DbSession,
    settings: AppSettings,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: CsrfField = None,
) -> Response:
    check_csrf(request, csrf)
    try:
        signup = auth.register(session, settings, email, password, client_address(request))
    except ServiceError as error:
        return refused(request, "auth.html", error, {"mode": "signup", "email": email})
    # The same page for a new and a taken address (`routers.auth.api_register`).
    message = account.sign_up_mail(session, settings, signup)
    if message is not None:
        tasks.add_task(mail.send_logged, settings, message)
    response = render(request, "signup_sent.html", {"user": None, "email": auth.normalise_email(email)})
    remember_signup(request, response, signup)
    return response


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: CsrfField = None,
) -> Response:
    check_csrf(request, csrf)
    try:
        user = auth.authenticate(session, settings, email, password, client_address(request))
    except ServiceError as error:
        return refused(request, "auth.html", error, {"mode": "login", "email": email})
    response = redirect("/")
    start_session(request, session, response, user)
    return response


@router.post("/logout")
def logout(request: Request, session: DbSession, csrf: CsrfField = None) -> Response:
    check_csrf(request, csrf)
    response = redirect("/")
    end_session(request, session, response)
    return response


@router.post("/jobs")
def submit_form(
    request: Request,
    session: DbSession,
    connections: AppConnections,
    user: MaybeUser,
    photo: Annotated[UploadFile, File()],
    style: Annotated[list[str] | None, Form()] = None,
    style_image: Annotated[UploadFile | None, File()] = None,
    painting: Annotated[str | None, Form()] = None,
    reference: Annotated[UploadFile | None, File()] = None,
    strength: Annotated[float, Form()] = 1.0,
    preserve_color: Annotated[bool, Form()] = False,
    csrf: CsrfField = None,
) -> Response:
    check_csrf(request, csrf)
    if user is None:
        return redirect("/login")
    limit = connections.settings.max_upload_bytes
    job_request = jobs.JobRequest(
        photo=read_upload(photo, limit) or b"",
        style_names=style or [],
        strength=strength,
        preserve_color=preserve_color,
        # A browser sends an empty part for a file input left empty: that is no style image.
        style_image=read_upload(style_image, limit) if style_image and style_image.filename else None,
        gallery_painting=painting or None,
        # A reference photo makes it a photo look (the preselected style is then not used).
        reference=read_upload(reference, limit) if reference and reference.filename else None,
    )
    try:
        created, _ = jobs.submit(session, connections, user, job_request)
    except ServiceError as error:
        return refused(request, "index.html", error, {"user": user, **style_choices(connections.settings)})
    return redirect(f"/jobs/{created[0].id}" if len(created) == 1 else "/gallery")


@router.get("/jobs/{job_id}")
def job_page(job_id: str, request: Request, session: DbSession, user: MaybeUser) -> Response:
    if user is None:
        return redirect("/login")
    job = jobs.owned_job(session, user, job_id)
    return render(request, "job.html", {"user": user, "job": jobs.job_out(session, job)})


@router.post("/jobs/{job_id}/delete")
def delete_form(
    job_id: str, request: Request, session: DbSession, settings: AppSettings, user: MaybeUser, csrf: CsrfField = None
) -> Response:
    check_csrf(request, csrf)
    jobs.delete_job(session, settings, jobs.owned_job(session, user, job_id))
    return redirect("/gallery")


@router.post("/jobs/{job_id}/share")
def share_form(job_id: str, request: Request, session: DbSession, user: MaybeUser, csrf: CsrfField = None) -> Response:
    check_csrf(request, csrf)
    jobs.share(session, jobs.owned_job(session, user, job_id))
    return redirect(f"/jobs/{job_id}")


@router.post("/jobs/{job_id}/unshare")
def unshare_form(
    job_id: str, request: Request, session: DbSession, user: MaybeUser, csrf: CsrfField = None
) -> Response:
    check_csrf(request, csrf)
    jobs.unshare(session, jobs.owned_job(session, user, job_id))
    return redirect(f"/jobs/{job_id}")


@router.get("/s/{token}")
def shared_page(token: str, request: Request, session: DbSession, user: MaybeUser) -> Response:
    """A shared result, for anyone with the link (no account needed)."""
    job = jobs.shared_job(session, token)
    response = render(request, "shared.html", {"user": user, "job": job, "token": token})
    response.headers["X-Robots-Tag"] = "noindex"  # a link for the people it was sent to, not for search engines
    return response


@router.get("/s/{token}/image")
def shared_image(token: str, session: DbSession, settings: AppSettings) -> Response:
    path = jobs.result_file(settings, jobs.shared_job(session, token))
    return FileResponse(path, headers={"X-Robots-Tag": "noindex", "Cache-Control": "private, max-age=300"})


@router.get("/gallery")
def gallery(request: Request, session: DbSession, user: MaybeUser) -> Response:
    if user is None:
        return redirect("/login")
    shown = [jobs.job_out(session, job) for job in jobs.list_jobs(session, user)]
    return render(request, "gallery.html", {"user": user, "jobs": shown})


@router.get("/buy")
def buy_page(request: Request, user: MaybeUser) -> Response:
    if user is None:
        return redirect("/login")
    return render(request, "buy.html", {"user": user})


@router.post("/buy")
def buy(request: Request, settings: AppSettings, user: MaybeUser, csrf: CsrfField = None) -> Response:
    check_csrf(request, csrf)
    if user is None:
        return redirect("/login")
    try:
        return redirect(billing.checkout_url(settings, user, str(request.base_url)))
    except ServiceError as error:  # Stripe failed: the buy page again, with why
        return refused(request, "buy.html", error, {"user": user})


# Accounts: e-mail verification, password reset, change password, delete account (`services.account`).


def _confirm(
    request: Request, session: DbSession, settings: Settings, user: User | None, token: str, password: str | None
) -> Response:
    """Confirm by the link and sign in; or the password form (with why) while the link is usable."""
    try:
        verified = account.verify_email(session, settings, token, confirm_proof(request, user, password))
    except account.PasswordNeeded as needed:  # not an error: the form, as the link was opened
        return render(request, "verify.html", {"user": user, "token": token, "email": needed.email})
    except ServiceError as error:
        try:  # a wrong password, or too many: the form again while the link still works
            context = {"user": user, "token": token, "email": account.pending_email(session, token)}
        except ServiceError:
            context = {"user": user}
        return refused(request, "verify.html", error, context)
    response = render(request, "verify.html", {"user": verified, "verified": verified})
    confirmed_session(request, session, response, verified)
    return response


@router.get("/verify")
def verify_page(
    request: Request, session: DbSession, settings: AppSettings, user: MaybeUser, token: str = ""
) -> Response:
    """The e-mailed confirmation link (a GET): in the browser that signed up, it confirms the
    address and signs in; elsewhere it asks for the sign-up's password (`services.account`)."""
    return _confirm(request, session, settings, user, token, None)


@router.post("/verify")
def verify_with_password(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MaybeUser,
    token: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: CsrfField = None,
) -> Response:
    check_csrf(request, csrf)
    return _confirm(request, session, settings, user, token, password)


@router.post("/verify/resend")
def resend_verification(
    request: Request,
    tasks: BackgroundTasks,
    session: DbSession,
    settings: AppSettings,
    user: MaybeUser,
    csrf: CsrfField = None,
) -> Response:
    check_csrf(request, csrf)
    if user is None:
        return redirect("/login")
    try:
        tasks.add_task(mail.send_logged, settings, account.resend_verification(session, settings, user))
    except ServiceError as error:
        return refused(request, "account.html", error, {"user": user})
    return render(
        request, "account.html", {"user": user, "notice": f"A new confirmation link is on its way to {user.email}."}
    )


@router.get("/forgot")
def forgot_page(request: Request, user: MaybeUser, email: str = "") -> Response:
    return render(request, "forgot.html", {"user": user, "email": email[:320]})


@router.post("/forgot")
def forgot(
    request: Request,
    tasks: BackgroundTasks,
    session: DbSession,
    settings: AppSettings,
    email: Annotated[str, Form()],
    csrf: CsrfField = None,
) -> Response:
    """The same page whether the account exists or not (no account enumeration)."""
    check_csrf(request, csrf)
    try:
        message = account.request_password_reset(session, settings, email, client_address(request))
    except ServiceError as error:
        return refused(request, "forgot.html", error, {"email": email})
    if message is not None:
        tasks.add_task(mail.send_logged, settings, message)
    return render(request, "forgot.html", {"sent_to": email})


@router.get("/reset")
def reset_page(request: Request, session: DbSession, token: str = "") -> Response:
    try:
        account.check_reset_token(session, token)
    except ServiceError as error:
        return refused(request, "reset.html", error, {"token": ""})
    return render(request, "reset.html", {"token": token})


@router.post("/reset")
def reset(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    token: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: CsrfField = None,
) -> Response:
    check_csrf(request, csrf)
    try:
        account.reset_password(session, settings, token, password)
    except ServiceError as error:
        # A refused password keeps the link usable: the form again; a bad link: no form.
        usable = str(error) != account.BAD_LINK
        return refused(request, "reset.html", error, {"token": token if usable else ""})
    response = render(request, "auth.html", {"mode": "login", "notice": "Your password is changed. Log in with it."})
    response.delete_cookie(SESSION_COOKIE, path="/")  # every session of the account ended
    return response


@router.get("/account")
def account_page(request: Request, user: MaybeUser) -> Response:
    if user is None:
        return redirect("/login")
    return render(request, "account.html", {"user": user})


@router.post("/account/password")
def change_password(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MaybeUser,
    current_password: Annotated[str, Form()],
    new_password: Annotated[str, Form()],
    csrf: CsrfField = None,
) -> Response:
    check_csrf(request, csrf)
    if user is None:
        return redirect("/login")
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        account.change_password(session, settings, user, current_password, new_password, token)
    except ServiceError as error:
        return refused(request, "account.html", error, {"user": user})
    notice = "Your password is changed; your other sessions are logged out."
    return render(request, "account.html", {"user": user, "notice": notice})


@router.post("/account/delete")
def delete_account(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MaybeUser,
    password: Annotated[str, Form()],
    csrf: CsrfField = None,
) -> Response:
    check_csrf(request, csrf)
    if user is None:
        return redirect("/login")
    try:
        account.delete_account(session, settings, user, password)
    except ServiceError as error:
        return refused(request, "account.html", error, {"user": user})
    response = redirect("/")
    end_session(request, session, response)
    return response
