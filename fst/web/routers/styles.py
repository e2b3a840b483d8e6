"""The styles on offer, their preview images, and the gallery of paintings for style images."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from fst.web import styles
from fst.web.deps import AppSettings, ReleasingRoute
from fst.web.schemas import StyleOut, StylesOut

router = APIRouter(tags=["styles"], route_class=ReleasingRoute)


@router.get("/api/styles")
def api_styles(settings: AppSettings) -> StylesOut:
    return StylesOut(
        styles=[
            StyleOut(name=s.name, title=s.title, preview_url=f"/styles/{s.name}/preview.jpg")
            for s in styles.shipped_styles(settings.checkpoints_dir)
        ],
        style_image_available=styles.arbitrary_style_checkpoint(settings.checkpoints_dir) is not None,
        gallery=styles.gallery_paintings(settings.paintings_dir),
    )


@router.get("/styles/{name}/preview.jpg", include_in_schema=False)
def preview(name: str, settings: AppSettings) -> FileResponse:
    style = styles.find_style(settings.checkpoints_dir, name)  # the name must be a shipped one
    path = settings.data_dir / "previews" / f"{style.name}.jpg" if style else None
    if path is None or not path.is_file():
        raise HTTPException(status_code=404, detail="no preview")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


@router.get("/gallery/paintings/{name}", include_in_schema=False)
def painting(name: str, settings: AppSettings) -> FileResponse:
    path = styles.gallery_painting(settings.paintings_dir, name)  # only listed names reach the disk
    if path is None:
        raise HTTPException(status_code=404, detail="no such painting")
    return FileResponse(path, headers={"Cache-Control": "max-age=86400"})
