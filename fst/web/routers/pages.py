"""The HTML pages: server-rendered Jinja2 templates over the same functions as the JSON API.

Every form carries a CSRF token (an HMAC of the browser's CSRF cookie); posts without it are 403.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from fst.web import styles
from fst.web.db import Job, User
from fst.web.deps import DbSession, MaybeUser, check_csrf, services
from fst.web.routers import auth, jobs
from fst.web.routers.billing import checkout_url
from fst.web.security import CSRF_COOKIE, SESSION_COOKIE, RateLimited, csrf_token, end_login_session

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")

CsrfField = Annotated[str | None, Form(alias="csrf_token")]


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """Render a template with the user, the settings and a CSRF token (setting the CSRF cookie if new)."""
    settings = services(request).settings
    cookie = request.cookies.get(CSRF_COOKIE)
    fresh = cookie is None
    if fresh:
        cookie = secrets.token_urlsafe(24)
    context = {"settings": settings, "csrf_token": csrf_token(settings.secret_key, cookie), "user": None, **context}
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    if fresh:
        response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="lax", secure=settings.secure_cookies)
    return response


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)  # 303: the browser follows a POST with a GET


def style_choices(request: Request) -> dict[str, Any]:
    settings = services(request).settings
    return {
        "styles": styles.shipped_styles(settings.checkpoints_dir),
        "style_image_available": styles.arbitrary_style_checkpoint(settings.checkpoints_dir) is not None,
        "gallery": styles.gallery_paintings(settings.paintings_dir),
    }


@router.get("/")
def home(request: Request, user: MaybeUser) -> Response:
    return render(request, "index.html", {"user": user, **style_choices(request)})


@router.get("/signup")
def signup_page(request: Request, user: MaybeUser) -> Response:
    return render(request, "auth.html", {"user": user, "mode": "signup"})


@router.get("/login")
def login_page(request: Request, user: MaybeUser) -> Response:
    return render(request, "auth.html", {"user": user, "mode": "login"})


@router.post("/signup")
def signup(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: CsrfField = None,
) -> Response:
    check_csrf(request, csrf)
    settings = services(request).settings
    try:
        user = auth.register(session, settings, email, password)
    except auth.AuthError as error:
        return render(request, "auth.html", {"mode": "signup", "error": str(error), "email": email}, error.status)
    response = redirect("/")
    auth.start_session(request, session, response, user, settings)
    return response


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: CsrfField = None,
) -> Response:
    check_csrf(request, csrf)
    settings = services(request).settings
    try:
        user = auth.authenticate(session, settings, email, password, auth.client_address(request))
    except auth.AuthError as error:
        return render(request, "auth.html", {"mode": "login", "error": str(error), "email": email}, error.status)
    except RateLimited as error:
        context = {"mode": "login", "error": f"too many attempts; try again in {error.retry_after} s", "email": email}
        response = render(request, "auth.html", context, 429)
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    response = redirect("/")
    auth.start_session(request, session, response, user, settings)
    return response


@router.post("/logout")
def logout(request: Request, session: DbSession, csrf: CsrfField = None) -> Response:
    check_csrf(request, csrf)
    end_login_session(session, request.cookies.get(SESSION_COOKIE))
    session.commit()
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/jobs")
def submit_form(
    request: Request,
    session: DbSession,
    user: MaybeUser,
    photo: Annotated[UploadFile, File()],
    style: Annotated[list[str] | None, Form()] = None,
    style_image: Annotated[UploadFile | None, File()] = None,
    painting: Annotated[str | None, Form()] = None,
    strength: Annotated[float, Form()] = 1.0,
    preserve_color: Annotated[bool, Form()] = False,
    csrf: CsrfField = None,
) -> Response:
    check_csrf(request, csrf)
    if user is None:
        return redirect("/login")
    service = services(request)
    limit = service.settings.max_upload_bytes
    job_request = jobs.JobRequest(
        photo=jobs.read_upload(photo, limit) or b"",
        style_names=style or [],
        strength=strength,
        preserve_color=preserve_color,
        # A browser sends an empty part for a file input left empty: that is no style image.
        style_image=jobs.read_upload(style_image, limit) if style_image and style_image.filename else None,
        gallery_painting=painting or None,
    )
    try:
        created, _ = jobs.submit(session, service, user, job_request)
    except (jobs.JobError, RateLimited) as error:
        status = error.status if isinstance(error, jobs.JobError) else 429
        context = {"user": user, "error": str(error), **style_choices(request)}
        return render(request, "index.html", context, status)
    return redirect(f"/jobs/{created[0].id}" if len(created) == 1 else "/gallery")


def _owned(session: DbSession, user: User | None, job_id: str) -> Job:
    if user is None:
        raise HTTPException(status_code=404, detail="no such job")
    return jobs.owned_job(session, user, job_id)


@router.get("/jobs/{job_id}")
def job_page(job_id: str, request: Request, session: DbSession, user: MaybeUser) -> Response:
    if user is None:
        return redirect("/login")
    job = _owned(session, user, job_id)
    return render(request, "job.html", {"user": user, "job": jobs.job_out(session, job)})


@router.post("/jobs/{job_id}/delete")
def delete_form(job_id: str, request: Request, session: DbSession, user: MaybeUser, csrf: CsrfField = None) -> Response:
    check_csrf(request, csrf)
    jobs.delete_job(session, services(request), _owned(session, user, job_id))
    return redirect("/gallery")


@router.get("/gallery")
def gallery(request: Request, session: DbSession, user: MaybeUser) -> Response:
    if user is None:
        return redirect("/login")
    rows = session.scalars(select(Job).where(Job.user_id == user.id).order_by(Job.created_at.desc())).all()
    return render(request, "gallery.html", {"user": user, "jobs": [jobs.job_out(session, job) for job in rows]})


@router.get("/buy")
def buy_page(request: Request, user: MaybeUser) -> Response:
    if user is None:
        return redirect("/login")
    return render(request, "buy.html", {"user": user})


@router.post("/buy")
def buy(request: Request, user: MaybeUser, csrf: CsrfField = None) -> Response:
    check_csrf(request, csrf)
    if user is None:
        return redirect("/login")
    return redirect(checkout_url(services(request).settings, user, str(request.base_url)))
