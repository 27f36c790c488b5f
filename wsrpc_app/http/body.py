"""Request bodies held to ``MAX_MESSAGE_BYTES`` before they are read whole.

A declared ``Content-Length`` over the limit is refused without reading
anything; a body without one (chunked) is read at most one byte past the
limit. Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (which answers an HTML 400)
is never reached: the limit here is wsrpc's.
"""

from __future__ import annotations

from django.http import HttpRequest

from .errors import PayloadTooLarge

__all__ = ["refuse_declared", "read_body"]


def refuse_declared(request: HttpRequest, limit: int | None) -> None:
    """Raise :class:`PayloadTooLarge` when ``Content-Length`` says the body is over ``limit`` bytes."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if limit is not None and declared > limit:
        raise PayloadTooLarge(limit)


def read_body(request: HttpRequest, limit: int | None) -> bytes:
    """The body, or :class:`PayloadTooLarge` as soon as it proves longer than ``limit`` (``None``: no limit)."""
    refuse_declared(request, limit)
    if hasattr(request, "_body"):  # already read (a form's CSRF check reads it): Django bounded it
        body: bytes = request.body
    else:
        body = request.read() if limit is None else request.read(limit + 1)
    if limit is not None and len(body) > limit:
        raise PayloadTooLarge(limit)
    return body
