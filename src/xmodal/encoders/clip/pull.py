"""Downloading: the one place weights come from the network (``xmodal models pull NAME``).

Files land in the Hugging Face cache, where indexing and searching find them offline, and are
checked against the hashes the cache files them under.
"""

from __future__ import annotations

import os
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xmodal.encoders.clip.hub import hub_cache_dir
from xmodal.encoders.clip.names import (
    EXAMPLE,
    HF_SYNTAX,
    SYNTAX,
    ClipName,
    hf_is_local,
    one_line,
    parse_clip_name,
)
from xmodal.encoders.clip.weights import (
    cached_tag_file,
    check_model,
    default_tag,
    hf_text_repos,
    hub_candidates,
    pretrained_cfg,
    verify_blob,
)
from xmodal.encoders.registry import split_name
from xmodal.errors import UsageError, XmodalError
from xmodal.progress import Progress, ProgressFactory, start_progress


def _ensure_online(name: str) -> None:
    """Fail in well under a second where huggingface_hub would retry for half a minute."""
    from huggingface_hub import constants

    fix = (
        f"run `xmodal models pull {name}` on a connected machine and copy its "
        f"Hugging Face cache ({hub_cache_dir()}) here"
    )
    if constants.HF_HUB_OFFLINE:
        # huggingface_hub takes either variable as its offline switch
        var = "HF_HUB_OFFLINE" if os.environ.get("HF_HUB_OFFLINE") else "TRANSFORMERS_OFFLINE"
        raise XmodalError(f"cannot download {name}: {var} is set; unset it or {fix}")
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return  # a proxy decides reachability; a direct probe would prove nothing
    host, port = endpoint_address(constants.ENDPOINT)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as e:
        raise XmodalError(
            f"cannot download {name}: {host}:{port} is unreachable ({one_line(e, 80)}); {fix}"
        ) from None


def endpoint_address(endpoint: str) -> tuple[str, int]:
    """The host and port a hub endpoint URL (``HF_ENDPOINT``) is reached at."""
    url = urllib.parse.urlparse(endpoint)
    try:
        port = url.port
    except ValueError:
        raise XmodalError(f"HF_ENDPOINT {endpoint!r} has an invalid port") from None
    return url.hostname or "huggingface.co", port or (80 if url.scheme == "http" else 443)


def _tqdm_class(progress: ProgressFactory | None) -> Any:
    """A tqdm class for the hub's downloads that draws nothing itself and reports to a
    ``Progress`` from ``progress`` (silent without one), so the client chooses the bar."""
    from tqdm.auto import tqdm

    class _Reported(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._to: Progress | None = start_progress(progress, int(kwargs.get("total") or 0))

        def update(self, n: float | None = 1) -> bool | None:
            if self._to is not None and n:
                self._to.update(int(n))
            return None

        def __iter__(self) -> Iterator[Any]:
            # the hub's per-file map iterates the bar: one step per file done
            for item in self.iterable:
                yield item
                self.update(1)

        def close(self) -> None:
            to, self._to = getattr(self, "_to", None), None
            if to is not None:
                to.close()
            super().close()

    return _Reported


def pull(name: str, progress: ProgressFactory | None = None) -> Path:
    """Download the weights ``name`` needs into the Hugging Face cache, check them, and
    return the weights file (``clip:``) or the model folder (``hf-clip:``); the downloads
    report their bytes (and a repo its files) to a ``Progress`` from ``progress``."""
    family, arg = split_name(name)
    if family == "hf-clip":
        if not arg:
            raise UsageError(f"pull needs a repo: {HF_SYNTAX}")
        return _pull_hf_repo(arg, progress)
    if family != "clip":
        raise UsageError(
            f"nothing to pull for {name!r}: only {SYNTAX} and {HF_SYNTAX} download weights"
        )
    cn = parse_clip_name(arg)
    if cn is None:
        raise UsageError(f"pull needs a model: {SYNTAX}, e.g. {EXAMPLE}")
    if cn.is_path:
        raise UsageError(f"{name} names a local file; there is nothing to download")
    return _pull_clip(cn, progress)


def _pull_clip(cn: ClipName, progress: ProgressFactory | None) -> Path:
    check_model(cn.model)
    tag = cn.source or default_tag(cn.model)
    if tag is None:
        raise UsageError(f"clip:{cn.model} has no published weights to pull")
    cfg = pretrained_cfg(cn.model, tag)
    display = f"clip:{cn.model}@{tag}"
    cached = cached_tag_file(cn.model, tag)
    if cached is not None and not hf_text_repos(cn.model):
        verify_blob(cached)
        return cached
    candidates = hub_candidates(cfg)
    if not candidates:
        raise XmodalError(f"{display} has no Hugging Face hub location to download from")
    _ensure_online(display)
    try:
        path = cached or _download_first(candidates, progress)
        _download_text_files(cn.model, progress)
    except Exception as e:
        raise XmodalError(f"cannot download {display}: {one_line(e)}") from None
    if path is None:
        raise XmodalError(f"{display}: none of {[f for _, f in candidates]} exist on the hub")
    verify_blob(path)
    return path


def _download_first(
    candidates: list[tuple[str, str]], progress: ProgressFactory | None
) -> Path | None:
    """The first of ``candidates`` the hub has, downloaded; ``None`` when it has none."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RemoteEntryNotFoundError

    for repo, filename in candidates:
        try:
            got = hf_hub_download(repo, filename, tqdm_class=_tqdm_class(progress), etag_timeout=10)
        except RemoteEntryNotFoundError:
            continue  # no safetensors copy published: the next candidate is the original
        return Path(got)
    return None


def _download_text_files(model: str, progress: ProgressFactory | None) -> None:
    """The configs and vocabularies of the hub repos ``model``'s text tower is built from."""
    from huggingface_hub import snapshot_download

    for repo in hf_text_repos(model):
        snapshot_download(
            repo,
            allow_patterns=["*.json", "*.txt", "*.model", "*.tiktoken"],
            tqdm_class=_tqdm_class(progress),
        )


def _pull_hf_repo(repo: str, progress: ProgressFactory | None) -> Path:
    if hf_is_local(repo):
        raise UsageError(f"hf-clip:{repo} names a local folder; there is nothing to download")
    _ensure_online(f"hf-clip:{repo}")
    from huggingface_hub import snapshot_download

    try:
        folder = Path(
            snapshot_download(
                repo,
                allow_patterns=["*.json", "*.txt", "*.model", "*.safetensors"],
                tqdm_class=_tqdm_class(progress),
            )
        )
    except Exception as e:
        raise XmodalError(f"cannot download hf-clip:{repo}: {one_line(e)}") from None
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        raise XmodalError(f"hf-clip:{repo} has no .safetensors weights; xmodal loads no pickles")
    for w in weights:
        verify_blob(w)
    return folder
