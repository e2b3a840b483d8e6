"""The styles on offer, their preview images, and the gallery of paintings for style images."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from fst.web import styles
from fst.web.deps import services

router = APIRouter(tags=["styles"])


class StyleOut(BaseModel):
    name: str
    title: str
    preview_url: str


class StylesOut(BaseModel):
    styles: list[StyleOut]
    style_image_available: bool  # the arbitrary-style model is installed
    gallery: list[str]  # paintings that can be picked as a style image


@router.get("/api/styles")
def api_styles(request: Request) -> StylesOut:
    settings = services(request).settings
    return StylesOut(
        styles=[
            StyleOut(name=s.name, title=s.title, preview_url=f"/styles/{s.name}/preview.jpg")
            for s in styles.shipped_styles(settings.checkpoints_dir)
        ],
        style_image_available=styles.arbitrary_style_checkpoint(settings.checkpoints_dir) is not None,
        gallery=styles.gallery_paintings(settings.paintings_dir),
    )


@router.get("/styles/{name}/preview.jpg", include_in_schema=False)
def preview(name: str, request: Request) -> FileResponse:
    settings = services(request).settings
    style = styles.find_style(settings.checkpoints_dir, name)  # the name must be a shipped one
    path = settings.data_dir / "previews" / f"{style.name}.jpg" if style else None
    if path is None or not path.is_file():
        raise HTTPException(status_code=404, detail="no preview")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


@router.get("/gallery/paintings/{name}", include_in_schema=False)
def painting(name: str, request: Request) -> FileResponse:
    settings = services(request).settings
    if name not in styles.gallery_paintings(settings.paintings_dir):  # only listed names reach the disk
        raise HTTPException(status_code=404, detail="no such painting")
    return FileResponse(settings.paintings_dir / name, headers={"Cache-Control": "max-age=86400"})
