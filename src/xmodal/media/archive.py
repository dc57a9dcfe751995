"""Opening the ZIP container of a DOCX or EPUB with its declared sizes checked first, so an
archive bomb is refused before anything is inflated."""

from __future__ import annotations

import io
import zipfile

from xmodal.errors import DecodeError
from xmodal.media.limits import DecodeLimits

#: Office files that are encrypted (or in the old binary formats) are OLE compound files
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def open_archive(data: bytes, kind: str, limits: DecodeLimits) -> zipfile.ZipFile:
    """``data`` as a ZIP archive whose members fit ``limits``; ``kind`` names the format in
    the reasons given for refusing it."""
    if not data:
        raise DecodeError("empty file")
    if len(data) > limits.max_file_bytes:
        raise DecodeError(f"file larger than {limits.max_file_bytes} bytes")
    if data.startswith(_OLE_MAGIC):
        raise DecodeError(
            f"encrypted {kind} (or an old binary format): save it without a password as {kind}"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise DecodeError(f"corrupt or truncated {kind}: {e}") from None
    members = archive.infolist()
    if len(members) > limits.max_archive_members:
        raise DecodeError(f"{kind} has {len(members)} parts, too many to open safely")
    inflated = sum(m.file_size for m in members)
    if inflated > limits.max_file_bytes:
        raise DecodeError(f"{kind} inflates to {inflated} bytes, over the limit")
    return archive


def read_member(archive: zipfile.ZipFile, name: str, kind: str, limits: DecodeLimits) -> bytes:
    """One member's bytes, read no further than the byte cap whatever its header claims."""
    try:
        with archive.open(name) as f:
            data = f.read(limits.max_file_bytes + 1)
    except KeyError:
        raise DecodeError(f"corrupt {kind}: part {name} is missing") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise DecodeError(f"corrupt or truncated {kind}: {e}") from None
    except RuntimeError as e:  # zipfile's way of saying a member is encrypted
        raise DecodeError(f"encrypted {kind}: {e}") from None
    if len(data) > limits.max_file_bytes:
        raise DecodeError(f"{kind} part {name} inflates past {limits.max_file_bytes} bytes")
    return data
