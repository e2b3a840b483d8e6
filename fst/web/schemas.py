"""The API's shapes (Pydantic): what the JSON routes read and answer; the pages render the same ones."""

from __future__ import annotations

from pydantic import BaseModel


class Credentials(BaseModel):
    email: str
    password: str


class Account(BaseModel):
    email: str
    credits: int
    billing: bool  # False: free mode, jobs cost nothing
    verified: bool = False  # the e-mail address is confirmed (the free credits come with it)


class EmailIn(BaseModel):
    email: str


class TokenIn(BaseModel):
    token: str
    # The sign-up's password; not needed with the sign-up cookie of that sign-up's browser.
    password: str | None = None


class PasswordReset(BaseModel):
    token: str
    password: str


class PasswordChange(BaseModel):
    current_password: str
    new_password: str


class PasswordIn(BaseModel):
    password: str


class Accepted(BaseModel):
    detail: str


class JobOut(BaseModel):
    id: str
    status: str  # queued, running, done or failed
    position: int  # place in the queue (1 = next); 0 once running or ended
    progress: float  # 0..1
    eta_s: float | None = None  # while running: seconds left, as the worker estimates them (None: not yet known)
    style: str
    style_title: str = ""  # the style as people read it: "Composition VII"
    strength: float
    preserve_color: bool
    error: str | None
    created_at: float
    result_url: str | None
    original_url: str | None = None  # the photo as uploaded: the "before" of the before/after view
    share_url: str | None = None  # the public link, when the owner shared the result


class JobList(BaseModel):
    jobs: list[JobOut]


class StyleOut(BaseModel):
    name: str
    title: str
    preview_url: str


class StylesOut(BaseModel):
    styles: list[StyleOut]
    style_image_available: bool  # the arbitrary-style model is installed
    gallery: list[str]  # paintings that can be picked as a style image


class CheckoutOut(BaseModel):
    url: str
