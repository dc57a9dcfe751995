"""Limits on what a decoder may be asked to do, passed down explicitly to every decoder."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    #: images claiming more pixels than this are refused before any pixel is decoded
    max_pixels: int = 80_000_000
    #: files larger than this are refused before they are read
    max_file_bytes: int = 512 * 1024 * 1024
    #: decoded images are scaled down so that their longer side is at most this
    max_side: int = 512
    #: text documents are cut to this many characters
    max_text_chars: int = 2_000_000
    #: PDF pages and EPUB chapters read from one document; the rest are left out
    max_pages: int = 2_000
    #: members of a DOCX or EPUB archive; more is refused as a likely archive bomb
    max_archive_members: int = 10_000
    #: Pillow formats allowed; anything else is refused even if Pillow could open it
    #: audio files larger than this are refused (they are streamed, not read whole)
    max_audio_bytes: int = 4 * 1024**3
    #: audio longer than this (seconds) is refused; its header is checked before decoding
    max_audio_seconds: float = 6 * 3600.0
    #: video files larger than this are refused (they are streamed, not read whole)
    max_video_bytes: int = 16 * 1024**3
    #: video longer than this (seconds) is refused; its header is checked before decoding
    max_video_seconds: float = 4 * 3600.0
    image_formats: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO", "HEIF")


DEFAULT_LIMITS = DecodeLimits()
