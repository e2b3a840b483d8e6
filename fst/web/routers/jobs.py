"""Stylize jobs: submit, status, result, list, delete. The rules are in `fst.web.services.jobs`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, Response, UploadFile
from fastapi.responses import FileResponse

from fst.web.deps import AppConnections, AppSettings, CurrentUser, DbSession, ReleasingRoute, read_upload
from fst.web.schemas import JobList, JobOut
from fst.web.services import jobs

router = APIRouter(prefix="/api/jobs", tags=["jobs"], route_class=ReleasingRoute)

MEDIA_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


@router.post(
    "",
    status_code=201,
    responses={200: {"description": "the job an earlier request with this Idempotency-Key created"}},
)
def api_submit(
    response: Response,
    session: DbSession,
    connections: AppConnections,
    user: CurrentUser,
    photo: Annotated[UploadFile, File(description="JPEG, PNG or WebP")],
    style: Annotated[str | None, Form(description="a shipped style's name (GET /api/styles)")] = None,
    style_image: Annotated[
        UploadFile | None, File(description="a style image (needs the arbitrary-style model)")
    ] = None,
    painting: Annotated[
        str | None, Form(max_length=200, description="a painting of the gallery as the style image")
    ] = None,
    reference: Annotated[
        UploadFile | None, File(description="a reference photo: its colours and light on the photo (a photo look)")
    ] = None,
    strength: Annotated[float, Form(ge=0.0, le=1.0)] = 1.0,
    preserve_color: Annotated[bool, Form()] = False,
    idempotency_key: Annotated[str | None, Header(max_length=64)] = None,
) -> JobOut:
    """Stylize a photo with a shipped style, or any style image or gallery painting (the arbitrary-style
    model), or give it a reference photo's look (`reference`: strength and keep-colours do not apply);
    one credit when billing is on."""
    limit = connections.settings.max_upload_bytes
    request = jobs.JobRequest(
        photo=read_upload(photo, limit) or b"",
        style_names=[style] if style else [],
        strength=strength,
        preserve_color=preserve_color,
        style_image=read_upload(style_image, limit),
        gallery_painting=painting,
        reference=read_upload(reference, limit),
        idempotency_key=idempotency_key,
    )
    created, new = jobs.submit(session, connections, user, request)
    if not new:
        response.status_code = 200
    return jobs.job_out(session, created[0])


@router.get("")
def api_list(
    session: DbSession,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JobList:
    """The user's jobs, newest first (`limit` and `offset` page through them)."""
    return JobList(jobs=[jobs.job_out(session, job) for job in jobs.list_jobs(session, user, limit, offset)])


@router.get("/{job_id}")
def api_status(job_id: str, session: DbSession, user: CurrentUser) -> JobOut:
    return jobs.job_out(session, jobs.owned_job(session, user, job_id))


@router.get("/{job_id}/result", response_class=FileResponse, responses={200: {"content": {"image/jpeg": {}}}})
def api_result(
    job_id: str, session: DbSession, settings: AppSettings, user: CurrentUser, download: bool = False
) -> FileResponse:
    """The stylized image (`?download=1` for an attachment)."""
    job = jobs.owned_job(session, user, job_id)
    path = jobs.result_file(settings, job)
    name = jobs.download_name(job, path.suffix) if download else None
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"), filename=name)


@router.get("/{job_id}/original", response_class=FileResponse, responses={200: {"content": {"image/jpeg": {}}}})
def api_original(job_id: str, session: DbSession, settings: AppSettings, user: CurrentUser) -> FileResponse:
    """The photo as uploaded (the "before" of the before/after view)."""
    path = jobs.original_file(settings, jobs.owned_job(session, user, job_id))
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"))


@router.post("/{job_id}/share")
def api_share(job_id: str, session: DbSession, user: CurrentUser) -> JobOut:
    """Turn on a public link to the result (`share_url`); off until asked for."""
    job = jobs.owned_job(session, user, job_id)
    jobs.share(session, job)
    return jobs.job_out(session, job)


@router.delete("/{job_id}/share", status_code=204)
def api_unshare(job_id: str, session: DbSession, user: CurrentUser) -> None:
    """Revoke the public link."""
    jobs.unshare(session, jobs.owned_job(session, user, job_id))


@router.delete("/{job_id}", status_code=204)
def api_delete(job_id: str, session: DbSession, settings: AppSettings, user: CurrentUser) -> None:
    """Delete a job and its files (photo and result)."""
    jobs.delete_job(session, settings, jobs.owned_job(session, user, job_id))
