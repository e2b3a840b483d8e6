"""Stylize jobs as users see them: submit (checks, storage, charge and insert in one transaction,
enqueue), look up, list, result file, delete. The state machine the worker drives is `job_states`.

A job is a shipped style, a style image (the arbitrary-style model), or a photo look: a reference
photo's colours and light on the photo (`fst.photo`; its style is `styles.PHOTO_LOOK`, the reference
stored where a style image would be). All three go through the same upload checks and credit rules.

Another user's job is always "no such job" (404), never "forbidden": its existence is not revealed.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fst.web import styles, uploads
from fst.web.connections import Connections
from fst.web.models import Job, User
from fst.web.schemas import JobOut
from fst.web.services import job_states
from fst.web.services.errors import Conflict, NotFound, ServiceError
from fst.web.services.rate_limits import reserve
from fst.web.settings import Settings


@dataclass
class JobRequest:
    """One submission from the API or the upload form: a photo and one or more styles."""

    photo: bytes
    style_names: list[str]
    strength: float = 1.0
    preserve_color: bool = False
    style_image: bytes | None = None
    gallery_painting: str | None = None
    reference: bytes | None = None  # a photo look's reference photo
    idempotency_key: str | None = None


@dataclass
class _Stored:
    """The files one submission wrote: a copy of the photo per job, and the style image if any."""

    photos: list[str]
    style_image: str | None

    def all(self) -> list[str | None]:
        return [*self.photos, self.style_image]


def submit(session: Session, connections: Connections, user: User, request: JobRequest) -> tuple[list[Job], bool]:
    """Check, store, charge and enqueue; returns (jobs, created). Nothing is charged unless all checks pass.

    Raises:
        ServiceError: a bad upload, style or strength (4xx), or too few credits (402).
        RateLimited: too many uploads in the last minute (429).
    """
    settings = connections.settings
    if request.idempotency_key and (earlier := _by_idempotency_key(session, user, request.idempotency_key)):
        return [earlier], False  # a retried request returns the job its first attempt created
    _count_upload(session, settings, user)
    if request.reference is not None:  # a photo look: the reference photo is its one style input
        if request.style_image is not None or request.gallery_painting:
            raise ServiceError("a photo look takes a reference photo alone: no style image or painting with it")
        second, names, label = request.reference, [styles.PHOTO_LOOK], "reference photo"
    else:
        second = arbitrary_style_image(settings, request)
        names, label = _style_names(settings, request, second), "style image"
    if not 0.0 <= request.strength <= 1.0:
        raise ServiceError("strength must be between 0 and 1")
    stored = _store_uploads(settings, user, request.photo, second, copies=len(names), label=label)
    created = _new_jobs(user, request, names, stored, charged=settings.billing_enabled)
    try:
        # The charge and the rows commit together or not at all.
        job_states.charge(session, user.id, len(names) if settings.billing_enabled else 0)
        session.add_all(created)
        session.commit()
    except (job_states.NotEnoughCredits, IntegrityError) as error:
        session.rollback()
        uploads.remove_files(settings.data_dir, *stored.all())
        if isinstance(error, IntegrityError) and request.idempotency_key:
            return submit(session, connections, user, request)  # the same key raced in: return its job
        raise
    for job in created:
        connections.queue.enqueue(job.id)
    return created, True


def _by_idempotency_key(session: Session, user: User, key: str) -> Job | None:
    return session.scalar(select(Job).where(Job.user_id == user.id, Job.idempotency_key == key))


def _count_upload(session: Session, settings: Settings, user: User) -> None:
    reserve(session, f"upload:{user.id}", settings.uploads_per_minute)  # a rejected upload still counts


def _style_names(settings: Settings, request: JobRequest, style_image: bytes | None) -> list[str]:
    """One job per distinct shipped style; one job with the arbitrary-style model for a style image."""
    if style_image is not None:
        return [request.gallery_painting.rsplit(".", 1)[0] if request.gallery_painting else "your image"]
    names = list(dict.fromkeys(name for name in request.style_names if name))
    if not names:
        raise ServiceError("choose a style")
    if None in [styles.find_style(settings.checkpoints_dir, name) for name in names]:
        raise ServiceError("unknown style; GET /api/styles lists them")
    return names


def _store_uploads(
    settings: Settings, user: User, photo: bytes, style_image: bytes | None, copies: int, label: str = "style image"
) -> _Stored:
    """Check both images (the second, a style image or reference photo, named `label` in errors),
    then store them; on any failure nothing stays on disk.

    Raises:
        UploadError: an image is empty, too large, not an image or undecodable (400 or 413).
    """
    limits = (settings.max_upload_bytes, settings.max_upload_pixels)
    checked = uploads.check_image(photo, *limits)
    style_checked = None if style_image is None else uploads.check_image(style_image, *limits, label)
    stored = _Stored(photos=[], style_image=None)
    try:
        # A copy per job: deleting one job removes its own photo only.
        stored.photos = [uploads.store_image(checked, settings.data_dir, user.id, "photo") for _ in range(copies)]
        if style_checked is not None:
            stored.style_image = uploads.store_image(style_checked, settings.data_dir, user.id, "style")
    except uploads.UploadError:
        uploads.remove_files(settings.data_dir, *stored.all())
        raise
    return stored


def _new_jobs(user: User, request: JobRequest, names: list[str], stored: _Stored, charged: bool) -> list[Job]:
    now = time.time()
    return [
        Job(
            id=job_states.new_job_id(),
            user_id=user.id,
            idempotency_key=request.idempotency_key,
            style=name,
            photo_path=photo,
            style_image_path=stored.style_image,
            strength=request.strength,
            preserve_color=request.preserve_color,
            charged=1 if charged else 0,
            created_at=now + index * 1e-6,  # keeps queue order within one submission
            enqueued_at=now,
        )
        for index, (name, photo) in enumerate(zip(names, stored.photos, strict=True))
    ]


def arbitrary_style_image(settings: Settings, request: JobRequest) -> bytes | None:
    """The style image's bytes (an upload, or a painting of the gallery); None for shipped styles.

    Raises:
        ServiceError: 503 while no arbitrary-style model is installed; 400 for a painting not in the gallery.
    """
    if request.style_image is None and not request.gallery_painting:
        return None
    if styles.arbitrary_style_checkpoint(settings.checkpoints_dir) is None:
        message = "styles from your own image are not available yet (no arbitrary-style model installed)"
        raise ServiceError(message, status=503)
    painting = None
    # Checked even beside an uploaded style image: the name becomes the job's style (a String(100)
    # column, the gallery's label, the download's file name), so only the gallery's own names pass.
    if request.gallery_painting:
        painting = styles.gallery_painting(settings.paintings_dir, request.gallery_painting)
        if painting is None:  # only listed names reach the disk: this also keeps paths out
            raise ServiceError("unknown painting; GET /api/styles lists the gallery")
    if request.style_image is not None:
        return request.style_image
    assert painting is not None  # a painting was named (checked above)
    return painting.read_bytes()


def owned_job(session: Session, user: User | None, job_id: str) -> Job:
    """The user's job; raises `NotFound` for a missing job and for another user's."""
    job = session.get(Job, job_id)
    if job is None or user is None or job.user_id != user.id:
        raise NotFound("no such job")
    return job


def list_jobs(session: Session, user: User, limit: int | None = None, offset: int = 0) -> list[Job]:
    """The user's jobs, newest first."""
    query = select(Job).where(Job.user_id == user.id).order_by(Job.created_at.desc()).offset(offset)
    return list(session.scalars(query.limit(limit) if limit is not None else query).all())


def job_out(session: Session, job: Job) -> JobOut:
    """The job as the API and the pages show it (with its place in the queue)."""
    return JobOut(
        id=job.id,
        status=job.status,
        position=job_states.position(session, job),
        progress=job.progress,
        eta_s=seconds_left(job),
        style=job.style,
        style_title=styles.display_name(job.style),
        strength=job.strength,
        preserve_color=job.preserve_color,
        error=job.error,
        created_at=job.created_at,
        result_url=f"/api/jobs/{job.id}/result" if job.status == "done" else None,
        original_url=f"/api/jobs/{job.id}/original",
        share_url=f"/s/{job.share_token}" if job.share_token else None,
    )


def seconds_left(job: Job, now: float | None = None) -> float | None:
    """A running job's estimated seconds left (whole seconds, at least 0), None while unknown."""
    if job.status != "running" or job.eta_at is None:
        return None
    return float(max(0, round(job.eta_at - (time.time() if now is None else now))))


def download_name(job: Job, suffix: str) -> str:
    """The result's file name for a download: the style's name reduced to safe characters."""
    style = re.sub(r"[^A-Za-z0-9_-]+", "_", job.style).strip("_")[:60] or "style"
    return f"{style}-{job.id[:8]}{suffix}"


def result_file(settings: Settings, job: Job) -> Path:
    """The stylized image's path; raises `Conflict` until the job is done, `NotFound` if the file is gone."""
    if job.status != "done" or not job.result_path:
        raise Conflict(f"the job is {job.status}, not done")
    path = settings.data_dir / job.result_path
    if not path.is_file():
        raise NotFound("the result file is missing")
    return path


def original_file(settings: Settings, job: Job) -> Path:
    """The photo as uploaded (our stored copy), for the before/after view; `NotFound` if it is gone."""
    path = settings.data_dir / job.photo_path
    if not path.is_file():
        raise NotFound("the original photo is missing")
    return path


def share(session: Session, job: Job) -> str:
    """Turn on the job's public link (a done job only) and return its token; the same one if shared."""
    if job.status != "done":
        raise Conflict(f"the job is {job.status}; share it when it is done")
    if not job.share_token:
        job.share_token = secrets.token_urlsafe(24)  # 192 random bits: not guessable, not enumerable
        session.commit()
    return job.share_token


def unshare(session: Session, job: Job) -> None:
    """Revoke the public link: the old URL answers 404 from now on."""
    job.share_token = None
    session.commit()


def shared_job(session: Session, token: str) -> Job:
    """The done job shared under `token`; `NotFound` for any other token (revoked, deleted, guessed)."""
    job = session.scalar(select(Job).where(Job.share_token == token)) if token else None
    if job is None or job.status != "done":
        raise NotFound("no such shared picture")
    return job


def delete_job(session: Session, settings: Settings, job: Job) -> None:
    """Delete a finished job and its files; a queued one is cancelled and refunded; a running one is 409."""
    session.refresh(job)  # the state (and result path) now, not when the request began
    if job.status == "running":
        raise Conflict("the job is running; delete it when it has finished")
    # Only in the state just read: a job claimed or finished in between must not be refunded or orphan a file.
    result = session.execute(delete(Job).where(Job.id == job.id, Job.status == job.status))
    if result.rowcount != 1:
        session.rollback()
        raise Conflict("the job changed state; try again")
    if job.status == "queued" and job.charged:  # cancelled before it ran: the credit goes back
        session.execute(update(User).where(User.id == job.user_id).values(credits=User.credits + job.charged))
    session.commit()
    uploads.remove_files(settings.data_dir, job.photo_path, job.style_image_path, job.result_path)
