"""Reading one uploaded file from a request, within a byte limit, as raw body or multipart.

Content-Length is only used to refuse early: the body is counted as it arrives, because a
chunked request has no length and a lying one must not get past the limit.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

MULTIPART_OVERHEAD = 64 * 1024  # part headers and boundaries around the file itself
RAW_TYPES = {"", "application/octet-stream", "application/javascript", "text/javascript",
             "text/html", "application/wasm", "text/plain"}


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"upload is larger than the {limit} byte limit; send a smaller file "
                              "or ask the operator to raise the limit")


async def read_body_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise too_large(limit)
    return bytes(buf)


async def read_upload(request: Request, default_name: str, limit: int) -> tuple[bytes, str]:
    """The file bytes and the name to scan them under; HTTPException (4xx) for any bad input."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        return await _read_multipart(request, default_name, limit)
    if media not in RAW_TYPES:
        raise HTTPException(415, f"unsupported Content-Type {media!r}: send the file as "
                                 "application/octet-stream (name in ?name=) or as multipart/"
                                 "form-data with a field named `file`")
    data = await read_body_limited(request, limit)
    return data, default_name


async def _read_multipart(request: Request, default_name: str, limit: int) -> tuple[bytes, str]:
    body = await read_body_limited(request, limit + MULTIPART_OVERHEAD)

    async def replay():
        yield body

    try:
        form = await MultiPartParser(request.headers, replay(), max_files=1, max_fields=16,
                                     max_part_size=64 * 1024).parse()
    except MultiPartException as e:
        raise HTTPException(400, f"malformed multipart body: {e.message}") from None
    except Exception as e:  # the parser has more failure modes than it documents
        raise HTTPException(400, f"malformed multipart body: {type(e).__name__}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(400, "multipart body needs one file in a form field named `file`")
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise too_large(limit)
        name = upload.filename or default_name
        return data, name[:255]
    finally:
        await form.close()
