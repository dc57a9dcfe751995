"""``/api/items/{id}``: an item's details, its thumbnail, its file and more like it. Items
are named only by their opaque id; nothing here takes a path."""

from __future__ import annotations

import mimetypes
import os
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse

from xmodal.errors import DecodeError
from xmodal.records import Modality
from xmodal.serve.routes_search import results
from xmodal.serve.schemas import ErrorOut, ItemDetail, OcrBox, SearchResults, SegmentOut
from xmodal.serve.service import ItemView, NotFound, Service
from xmodal.serve.settings import ServeSettings
from xmodal.serve.thumbs import snap, thumbnail

router = APIRouter()
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}
ItemId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="an item's id")]
#: a file from the collection is shown, never run: no script, no plug-in, no framing
MEDIA_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, max-age=3600",
}


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _ocr_boxes(metadata: dict[str, Any]) -> list[OcrBox]:
    found = metadata.get("ocr")
    if not isinstance(found, list):
        return []
    return [OcrBox.model_validate(b) for b in found if isinstance(b, dict)]


def detail(view: ItemView, service: Service) -> ItemDetail:
    item = view.item
    transcript = item.metadata.get("transcript")
    return ItemDetail(
        id=item.id,
        path=item.path,
        name=os.path.basename(item.path),
        modality=str(item.modality),
        size=item.size,
        mtime=item.mtime,
        metadata={k: v for k, v in item.metadata.items() if k not in ("ocr", "transcript")},
        text=item.text,
        ocr=_ocr_boxes(item.metadata),
        box_frame=service.box_frame(item) if item.modality is Modality.IMAGE else None,
        transcript=transcript if isinstance(transcript, str) else None,
        segments=[
            SegmentOut(ordinal=s.ordinal, text=s.text, start=s.start, end=s.end)
            for s in view.segments
        ],
        has_picture=item.modality is Modality.IMAGE and view.file is not None,
    )


@router.get("/api/items/{item_id}", response_model=ItemDetail, responses=NOT_FOUND)
def item_detail(request: Request, item_id: ItemId) -> ItemDetail:
    """An item's metadata, attached text, OCR boxes, transcript and segments."""
    service = _service(request)
    return detail(service.view(item_id), service)


@router.get(
    "/api/items/{item_id}/thumbnail",
    response_class=FileResponse,
    responses={**NOT_FOUND, 200: {"content": {"image/jpeg": {}}}},
)
def item_thumbnail(
    request: Request,
    item_id: ItemId,
    size: Annotated[int, Query(ge=16, le=1024, description="longest side in pixels")] = 256,
) -> FileResponse:
    """A JPEG of the picture no larger than ``size`` on its longer side, made once and kept."""
    service = _service(request)
    settings: ServeSettings = request.app.state.settings
    item, real = service.file_of(item_id)
    if item.modality is not Modality.IMAGE:
        raise NotFound(item_id)
    try:
        made = thumbnail(real, item.content_hash, snap(size), settings.thumb_dir)
    except (DecodeError, OSError):
        raise NotFound(item_id) from None
    return FileResponse(made, media_type="image/jpeg", headers=MEDIA_HEADERS)


@router.get(
    "/api/items/{item_id}/media",
    response_class=FileResponse,
    responses={**NOT_FOUND, 206: {"description": "the part a Range header asked for"}},
)
def item_media(request: Request, item_id: ItemId) -> FileResponse:
    """The original file; ``Range`` requests are answered so that audio and video seek."""
    item, real = _service(request).file_of(item_id)
    if item.modality is Modality.TEXT:
        media_type = "text/plain; charset=utf-8"
    else:
        guessed = mimetypes.guess_type(item.path)[0] or "application/octet-stream"
        # a picture that can carry script (SVG) is sent as bytes, not as a document
        media_type = guessed if not guessed.endswith("+xml") else "application/octet-stream"
    return FileResponse(
        real,
        media_type=media_type,
        headers=MEDIA_HEADERS,
        filename=os.path.basename(item.path),
        content_disposition_type="inline",
    )


@router.get(
    "/api/items/{item_id}/similar",
    response_model=SearchResults,
    response_model_exclude_none=True,
    responses=NOT_FOUND,
)
def item_similar(
    request: Request,
    item_id: ItemId,
    k: Annotated[int, Query(ge=1, le=200, description="number of results")] = 10,
) -> SearchResults:
    """More like this: the item's picture or words searched, the item itself left out."""
    return results(_service(request).similar(item_id, k))
