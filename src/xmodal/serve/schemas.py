"""The API's answers as typed models; they are also what ``/openapi.json`` documents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Hit(BaseModel):
    """One result: the same fields as ``xmodal search --json``."""

    id: str
    path: str
    score: float
    modality: str
    segment: int = 0
    start: float | None = Field(None, description="seconds, for time-based media")
    end: float | None = None
    text: str | None = Field(None, description="the passage or attached words that matched")
    spaces: dict[str, float] | None = Field(None, description="each space's share of the score")


class SearchResults(BaseModel):
    results: list[Hit]


class OcrBox(BaseModel):
    text: str
    #: four corners, in the pixels of a picture of size ``ItemDetail.box_frame``
    box: list[list[float]]
    score: float


class SegmentOut(BaseModel):
    ordinal: int
    text: str = ""
    start: float | None = None
    end: float | None = None


class ItemDetail(BaseModel):
    id: str
    path: str
    name: str
    modality: str
    size: int
    mtime: float
    metadata: dict[str, Any]
    text: str = Field("", description="the words attached to the item")
    ocr: list[OcrBox] = Field(default_factory=list)
    box_frame: list[int] | None = Field(None, description="width, height the OCR boxes are in")
    transcript: str | None = None
    segments: list[SegmentOut]
    has_picture: bool


class Health(BaseModel):
    status: str


class ErrorOut(BaseModel):
    error: str
