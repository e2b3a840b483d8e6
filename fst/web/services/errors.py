"""The one exception the services raise: a message for the user and the HTTP status to answer with."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the rules refuse; `status` is 400 unless the subclass or caller says otherwise."""

    status: int = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409
