"""Searching by an uploaded file: its content is searched exactly as ``xmodal search --image``
(``--audio`` for a recording, ``--video`` for a video clip) searches a file, under a name that
adds no words, in a folder of its own that is removed afterwards."""

from __future__ import annotations

import io
import re
import tempfile
import warnings
from pathlib import Path

from PIL import Image

from xmodal.errors import UsageError
from xmodal.media.limits import DEFAULT_LIMITS
from xmodal.records import SearchHit
from xmodal.serve.service import SearchRequest, Service

#: the extension the collection's walk gives each image format it reads
_EXTENSIONS = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tif",
    "HEIF": ".heic",
}
#: how audio and video files begin, to say why they are refused rather than "not a picture"
_MEDIA_MAGIC = (b"RIFF", b"ID3", b"OggS", b"fLaC", b"\x1aE\xdf\xa3", b"\xff\xfb", b"\xff\xf3")
#: how the recordings the audio decoders read begin, and the extension each is stored under
_AUDIO_MAGIC = (
    (b"ID3", ".mp3"),
    (b"\xff\xfb", ".mp3"),
    (b"\xff\xf3", ".mp3"),
    (b"\xff\xf2", ".mp3"),
    (b"OggS", ".ogg"),
    (b"fLaC", ".flac"),
)


#: how the video containers the video decoder reads begin, and the extension each is stored
#: under (MP4 and QuickTime by their ``ftyp`` box, WebM and Matroska by their EBML header)
_QUICKTIME_BRANDS = (b"qt  ",)
#: ``ftyp`` brands of pictures (HEIF, AVIF) and of recordings, which are not video clips
_NOT_VIDEO_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}
    | {b"M4A ", b"M4B "}
)


class UploadTooLarge(UsageError):
    """An upload over the server's size or pixel limit."""


class UnsupportedUpload(UsageError):
    """An upload of a kind this collection cannot be searched with."""


def _looks_like_clip(data: bytes) -> bool:
    return data.startswith(_MEDIA_MAGIC) or data[4:8] == b"ftyp"


def audio_extension(data: bytes) -> str | None:
    """The extension of a recording the audio decoders read, or None for anything else."""
    if data.startswith(b"RIFF") and data[8:12] == b"WAVE":
        return ".wav"
    if data[4:8] == b"ftyp" and data[8:12] in (b"M4A ", b"M4B "):
        return ".m4a"
    return next((ext for magic, ext in _AUDIO_MAGIC if data.startswith(magic)), None)


def video_extension(data: bytes) -> str | None:
    """The extension of a video container the video decoder reads, or None for anything
    else (an MP4 that holds only sound is a recording: ``audio_extension`` names it)."""
    if data[4:8] == b"ftyp" and data[8:12] not in _NOT_VIDEO_BRANDS:
        return ".mov" if data[8:12] in _QUICKTIME_BRANDS else ".mp4"
    if data.startswith(b"\x1aE\xdf\xa3"):
        return ".webm" if b"webm" in data[:64] else ".mkv"
    if data.startswith(b"RIFF") and data[8:12] == b"AVI ":
        return ".avi"
    return None


def image_extension(data: bytes, max_pixels: int) -> str:
    """The extension for ``data``'s image format, after checking its header and pixel count."""
    if not data:
        raise UsageError("the uploaded file is empty")
    formats = [f for f in DEFAULT_LIMITS.image_formats if f in _EXTENSIONS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=formats) as im:
                fmt, (width, height) = im.format or "", im.size
        except Image.DecompressionBombError:
            raise UploadTooLarge(
                f"the uploaded picture has more than {max_pixels} pixels"
            ) from None
        except Exception:
            if (data.startswith(b"RIFF") and data[8:12] == b"WEBP") or not _looks_like_clip(data):
                raise UsageError(
                    "the uploaded file is not a picture this server can read"
                    " (JPEG, PNG, WebP, GIF, BMP or TIFF)"
                ) from None
            raise UnsupportedUpload(
                "the uploaded file is a recording or video this server cannot read"
                " (recordings: WAV, MP3, OGG, FLAC, M4A; videos: MP4, MOV, MKV, WebM, AVI)"
            ) from None
    if width * height > max_pixels:
        raise UploadTooLarge(f"the uploaded picture has more than {max_pixels} pixels")
    return _EXTENSIONS.get(fmt, ".png")


def _search_clip(service: Service, request: SearchRequest, path: Path) -> list[SearchHit]:
    """A video clip searched as a video, or as a recording when it turns out to hold only
    sound (an MP4 of a voice memo starts like any MP4)."""
    from xmodal.spaces.query_video import SoundOnlyClip

    try:
        return service.search(request, None, video=path)
    except SoundOnlyClip:
        if not service.hears():
            raise UnsupportedUpload(
                "this collection holds no space that can be searched by sound"
            ) from None
    sound = path.rename(path.with_suffix(".m4a"))
    return service.search(request, None, audio=sound)


def search_upload(
    service: Service, data: bytes, request: SearchRequest, max_pixels: int
) -> list[SearchHit]:
    sound = audio_extension(data)
    if sound is not None and not service.hears():
        raise UnsupportedUpload("this collection holds no space that can be searched by sound")
    clip = video_extension(data) if sound is None else None
    extension = sound or clip or image_extension(data, max_pixels)
    with tempfile.TemporaryDirectory(prefix="xmodal-upload-") as folder:
        path = Path(folder) / f"0{extension}"
        path.write_bytes(data)
        try:
            if sound is not None:
                return service.search(request, None, audio=path)
            if clip is not None:
                return _search_clip(service, request, path)
            return service.search(request, path)
        except UnsupportedUpload:
            raise
        except UsageError as e:
            # the message names the temporary file; the client only knows its upload
            named = re.sub(re.escape(folder) + r"/0\.\w+", "upload", str(e))
            raise UsageError(named) from None
