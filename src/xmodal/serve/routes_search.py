"""``/api/search``: words (GET) or an uploaded picture with optional words (POST)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from xmodal.query.filters import Filters, parse_date, parse_modalities
from xmodal.records import SearchHit
from xmodal.serve.schemas import ErrorOut, SearchResults
from xmodal.serve.service import SearchRequest, Service, text_query
from xmodal.serve.settings import ServeSettings
from xmodal.serve.uploads import search_upload

router = APIRouter()
ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "a bad query, filter or upload"},
}

QText = Annotated[
    str | None, Query(max_length=2000, description='words, or a mixed query: "beach" - people')
]
K = Annotated[int, Query(ge=1, le=200, description="number of results")]
Offset = Annotated[int, Query(ge=0, le=1800, description="results to pass over (paging)")]
Types = Annotated[list[str] | None, Query(description="modalities: image, text (repeatable)")]
Date = Annotated[str | None, Query(max_length=40, description="YYYY-MM-DD")]
Globs = Annotated[list[str] | None, Query(description="path patterns (repeatable)")]
Model = Annotated[str | None, Query(max_length=500, description="search only this space")]


def results(hits: list[SearchHit]) -> SearchResults:
    return SearchResults.model_validate({"results": [h.to_json() for h in hits]})


def make_filters(
    types: list[str] | None, after: str | None, before: str | None, globs: list[str] | None
) -> Filters:
    return Filters(
        modalities=parse_modalities(types),
        after=parse_date(after) if after else None,
        before=parse_date(before) if before else None,
        path_globs=tuple(globs or ()),
    )


def _parts(request: Request) -> tuple[Service, ServeSettings]:
    return request.app.state.service, request.app.state.settings


@router.get(
    "/api/search", response_model=SearchResults, response_model_exclude_none=True, responses=ERRORS
)
def search_words(
    request: Request,
    q: QText = None,
    k: K = 10,
    type: Types = None,
    after: Date = None,
    before: Date = None,
    path: Globs = None,
    model: Model = None,
    offset: Offset = 0,
) -> SearchResults:
    """Search with words in any language, or the mixed syntax of ``xmodal search``."""
    from xmodal.errors import UsageError

    service, _ = _parts(request)
    query = text_query(q)
    if query is None:
        raise UsageError("nothing to search for: give q (or POST a picture)")
    filters = make_filters(type, after, before, path)
    return results(service.search(SearchRequest(query, k, offset, model, filters), None))


@router.post(
    "/api/search",
    response_model=SearchResults,
    response_model_exclude_none=True,
    responses={**ERRORS, 413: {"model": ErrorOut}, 415: {"model": ErrorOut}},
)
async def search_upload_route(
    request: Request,
    file: Annotated[
        UploadFile, File(description="a picture, recording or video clip to search by")
    ],
    q: Annotated[str | None, Form(max_length=2000)] = None,
    k: Annotated[int, Form(ge=1, le=200)] = 10,
    offset: Annotated[int, Form(ge=0, le=1800)] = 0,
    model: Annotated[str | None, Form(max_length=500)] = None,
    type: Annotated[list[str] | None, Form()] = None,
    after: Annotated[str | None, Form(max_length=40)] = None,
    before: Annotated[str | None, Form(max_length=40)] = None,
    path: Annotated[list[str] | None, Form()] = None,
) -> SearchResults:
    """Search by an uploaded picture (drop or paste it on the page), recording or video clip,
    with optional words and the same filters as a search by words."""
    service, settings = _parts(request)
    query = text_query(q)
    filters = make_filters(type, after, before, path)
    data = await file.read(settings.max_upload_bytes + 1)
    search = SearchRequest(query, k, offset, model, filters)
    hits = await run_in_threadpool(search_upload, service, data, search, settings.max_upload_pixels)
    return results(hits)
