"""Stylize jobs: submit (upload checks, charge and insert in one transaction, enqueue), status,
result, list, delete. Another user's job is always 404, never 403: its existence is not revealed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, HTTPException, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fst.web import jobs, styles, uploads
from fst.web.db import Job, User
from fst.web.deps import CurrentUser, DbSession, services
from fst.web.security import check_rate, record_event
from fst.web.services import Services

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

MEDIA_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


class JobOut(BaseModel):
    id: str
    status: str  # queued, running, done or failed
    position: int  # place in the queue (1 = next); 0 once running or ended
    progress: float  # 0..1
    style: str
    strength: float
    preserve_color: bool
    error: str | None
    created_at: float
    result_url: str | None


class JobList(BaseModel):
    jobs: list[JobOut]


@dataclass
class JobRequest:
    """One submission from the API or the upload form: a photo and one or more styles."""

    photo: bytes
    style_names: list[str]
    strength: float = 1.0
    preserve_color: bool = False
    style_image: bytes | None = None
    gallery_painting: str | None = None
    idempotency_key: str | None = None


class JobError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def job_out(session: Session, job: Job) -> JobOut:
    return JobOut(
        id=job.id,
        status=job.status,
        position=jobs.position(session, job),
        progress=job.progress,
        style=job.style,
        strength=job.strength,
        preserve_color=job.preserve_color,
        error=job.error,
        created_at=job.created_at,
        result_url=f"/api/jobs/{job.id}/result" if job.status == "done" else None,
    )


def read_upload(upload: UploadFile | None, limit: int) -> bytes | None:
    """At most `limit + 1` bytes, so an oversized upload is recognised without reading all of it."""
    if upload is None:
        return None
    return upload.file.read(limit + 1)


def submit(session: Session, services: Services, user: User, request: JobRequest) -> tuple[list[Job], bool]:
    """Check, store, charge and enqueue; returns (jobs, created). Nothing is charged unless all checks pass.

    Raises:
        JobError: a bad upload, style or strength (4xx), or too few credits (402).
        RateLimited: too many uploads in the last minute (429).
    """
    settings = services.settings
    if request.idempotency_key:  # a retried request returns the job its first attempt created
        existing = session.scalar(
            select(Job).where(Job.user_id == user.id, Job.idempotency_key == request.idempotency_key)
        )
        if existing:
            return [existing], False
    key = f"upload:{user.id}"
    check_rate(session, key, settings.uploads_per_minute)
    record_event(session, key)
    session.commit()  # a rejected upload still counts towards the limit
    style_image = arbitrary_style_image(services, request)
    if style_image is not None:  # any image as the style: one job with the arbitrary-style model
        names = [request.gallery_painting.rsplit(".", 1)[0] if request.gallery_painting else "your image"]
    else:
        names = list(dict.fromkeys(name for name in request.style_names if name))
        if not names:
            raise JobError("choose a style")
        if None in [styles.find_style(settings.checkpoints_dir, name) for name in names]:
            raise JobError("unknown style; GET /api/styles lists them")
    if not 0.0 <= request.strength <= 1.0:
        raise JobError("strength must be between 0 and 1")
    stored: list[str] = []
    try:
        checked = uploads.check_image(request.photo, settings.max_upload_bytes, settings.max_upload_pixels)
        style_checked = (
            None
            if style_image is None
            else uploads.check_image(style_image, settings.max_upload_bytes, settings.max_upload_pixels, "style image")
        )
        stored = [uploads.store_image(checked, settings.data_dir, user.id, "photo") for _ in names]
        style_path = (
            None if style_checked is None else uploads.store_image(style_checked, settings.data_dir, user.id, "style")
        )
    except uploads.UploadError as error:
        uploads.remove_files(settings.data_dir, *stored)
        raise JobError(str(error), error.status) from None
    if style_path is not None:
        stored.append(style_path)  # removed with the photos if the charge fails
    cost = len(names) if settings.billing_enabled else 0
    now = time.time()
    created = [
        Job(
            id=jobs.new_job_id(),
            user_id=user.id,
            idempotency_key=request.idempotency_key,
            style=name,
            photo_path=photo,
            style_image_path=style_path,
            strength=request.strength,
            preserve_color=request.preserve_color,
            charged=1 if cost else 0,
            created_at=now + index * 1e-6,  # keeps queue order within one submission
            enqueued_at=now,
        )
        for index, (name, photo) in enumerate(zip(names, stored[: len(names)], strict=True))
    ]
    try:
        jobs.charge(session, user.id, cost)  # the charge and the rows commit together or not at all
        session.add_all(created)
        session.commit()
    except (jobs.NotEnoughCredits, IntegrityError) as error:
        session.rollback()
        uploads.remove_files(settings.data_dir, *stored)
        if isinstance(error, jobs.NotEnoughCredits):
            raise JobError(str(error), 402) from None
        if not request.idempotency_key:
            raise
        return submit(session, services, user, request)  # the same key raced in: return its job
    for job in created:
        services.queue.enqueue(job.id)
    return created, True


def arbitrary_style_image(services: Services, request: JobRequest) -> bytes | None:
    """The style image's bytes (an upload, or a painting of the gallery); None for shipped styles.

    Raises:
        JobError: 503 while no arbitrary-style model is installed; 400 for a painting not in the gallery.
    """
    if request.style_image is None and not request.gallery_painting:
        return None
    settings = services.settings
    if styles.arbitrary_style_checkpoint(settings.checkpoints_dir) is None:
        raise JobError("styles from your own image are not available yet (no arbitrary-style model installed)", 503)
    if request.style_image is not None:
        return request.style_image
    if request.gallery_painting not in styles.gallery_paintings(settings.paintings_dir):
        raise JobError("unknown painting; GET /api/styles lists the gallery")  # also keeps paths out
    return (settings.paintings_dir / request.gallery_painting).read_bytes()


def owned_job(session: Session, user: User, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None or job.user_id != user.id:
        raise HTTPException(status_code=404, detail="no such job")
    return job


def delete_job(session: Session, services: Services, job: Job) -> None:
    """Delete a finished job and its files; a queued one is cancelled and refunded; a running one is 409."""
    session.refresh(job)  # the state (and result path) now, not when the request began
    if job.status == "running":
        raise HTTPException(status_code=409, detail="the job is running; delete it when it has finished")
    # Only in the state just read: a job claimed or finished in between must not be refunded or orphan a file.
    result = session.execute(delete(Job).where(Job.id == job.id, Job.status == job.status))
    if result.rowcount != 1:
        session.rollback()
        raise HTTPException(status_code=409, detail="the job changed state; try again")
    if job.status == "queued" and job.charged:  # cancelled before it ran: the credit goes back
        session.execute(update(User).where(User.id == job.user_id).values(credits=User.credits + job.charged))
    session.commit()
    uploads.remove_files(services.settings.data_dir, job.photo_path, job.style_image_path, job.result_path)


@router.post(
    "",
    status_code=201,
    responses={200: {"description": "the job an earlier request with this Idempotency-Key created"}},
)
def api_submit(
    request: Request,
    response: Response,
    session: DbSession,
    user: CurrentUser,
    photo: Annotated[UploadFile, File(description="JPEG, PNG or WebP")],
    style: Annotated[str | None, Form(description="a shipped style's name (GET /api/styles)")] = None,
    style_image: Annotated[
        UploadFile | None, File(description="a style image (needs the arbitrary-style model)")
    ] = None,
    painting: Annotated[str | None, Form(description="a painting of the gallery as the style image")] = None,
    strength: Annotated[float, Form(ge=0.0, le=1.0)] = 1.0,
    preserve_color: Annotated[bool, Form()] = False,
    idempotency_key: Annotated[str | None, Header(max_length=64)] = None,
) -> JobOut:
    """Stylize a photo with a shipped style, or any style image or gallery painting (the arbitrary-style
    model); one credit when billing is on."""
    service = services(request)
    limit = service.settings.max_upload_bytes
    job_request = JobRequest(
        photo=read_upload(photo, limit) or b"",
        style_names=[style] if style else [],
        strength=strength,
        preserve_color=preserve_color,
        style_image=read_upload(style_image, limit),
        gallery_painting=painting,
        idempotency_key=idempotency_key,
    )
    try:
        created, new = submit(session, service, user, job_request)
    except JobError as error:
        raise HTTPException(status_code=error.status, detail=str(error)) from None
    if not new:
        response.status_code = 200
    return job_out(session, created[0])


@router.get("")
def api_list(
    session: DbSession,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JobList:
    """The user's jobs, newest first (`limit` and `offset` page through them)."""
    query = select(Job).where(Job.user_id == user.id).order_by(Job.created_at.desc()).limit(limit).offset(offset)
    rows = session.scalars(query).all()
    return JobList(jobs=[job_out(session, job) for job in rows])


@router.get("/{job_id}")
def api_status(job_id: str, session: DbSession, user: CurrentUser) -> JobOut:
    return job_out(session, owned_job(session, user, job_id))


@router.get("/{job_id}/result", response_class=FileResponse, responses={200: {"content": {"image/jpeg": {}}}})
def api_result(
    job_id: str, request: Request, session: DbSession, user: CurrentUser, download: bool = False
) -> FileResponse:
    """The stylized image (`?download=1` for an attachment)."""
    job = owned_job(session, user, job_id)
    if job.status != "done" or not job.result_path:
        raise HTTPException(status_code=409, detail=f"the job is {job.status}, not done")
    path = services(request).settings.data_dir / job.result_path
    if not path.is_file():
        raise HTTPException(status_code=404, detail="the result file is missing")
    name = f"{job.style}-{job.id[:8]}{path.suffix}" if download else None
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"), filename=name)


@router.delete("/{job_id}", status_code=204)
def api_delete(job_id: str, request: Request, session: DbSession, user: CurrentUser) -> None:
    """Delete a job and its files (photo and result)."""
    delete_job(session, services(request), owned_job(session, user, job_id))
