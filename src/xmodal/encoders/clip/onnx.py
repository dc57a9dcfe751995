"""The fast CPU path for clip encoders: ``clip:MODEL@TAG_OR_PATH#onnx`` and ``#onnx-int8``.

Each tower is exported once per architecture and weights to ONNX (dynamic batch axis) and run
with ONNX Runtime, which on a CPU beats eager PyTorch for these graphs. ``#onnx-int8`` adds
weight-only int8 quantisation of the matrix multiplications (see ``int8``); its vectors differ
slightly from the float ones, which is why the backend is part of the encoder name and so of
the fingerprint.

Exports live in ``$XMODAL_CACHE/onnx/<model>-<sha256[:16] of the weights>/`` (default
``~/.cache/xmodal``); every file is written to a temporary name and renamed into place, and
``meta.json`` is written last, so a crash or a concurrent export never leaves a half-file that
a later run would trust.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xmodal.atomic import atomic_write_text, sync_folder
from xmodal.encoders.clip.encoder import ClipEncoder, Tower, preprocess_cfg_for
from xmodal.encoders.clip.int8 import QUANTIZE_VERSION, VERSION_KEY, quantized_model
from xmodal.encoders.clip.openclip import (
    assemble_encoder,
    context_length_of,
    get_tokenizer,
    load_open_clip,
)
from xmodal.encoders.clip.runtime import LazyTower, session
from xmodal.encoders.clip.tokens import load_tokens, save_tokens
from xmodal.encoders.clip.towers import (
    cls_only_image,
    image_module,
    text_module,
    tower_module,
    trimmable_text,
)
from xmodal.encoders.clip.weights import ResolvedWeights
from xmodal.errors import XmodalError
from xmodal.paths import cache_dir

if TYPE_CHECKING:
    import onnxruntime
    import torch

#: bump when the exported graphs change meaning, so stale exports are redone
EXPORT_VERSION = 4
OPSET = 18


def export_dir_for(model: str, quick_gelu: bool, digest: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model)
    # the same file under quick-GELU is a different function, so it gets its own graphs
    variant = "-quickgelu" if quick_gelu else ""
    return cache_dir() / "onnx" / f"{safe}{variant}-{digest[:16]}"


def export_dir(w: ResolvedWeights) -> Path:
    return export_dir_for(w.name.model, w.quick_gelu, w.digest)


def _atomic_write(dest: Path, write: Callable[[Path], None]) -> None:
    """``write`` into a private folder beside ``dest``, then rename into place.

    Exports over 2 GB put their weights in a sidecar file named after the model; sidecars move
    first so that the model file, which refers to them, appears last.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dest.parent))
    try:
        tmp = tmpdir / dest.name
        write(tmp)
        written = sorted(tmpdir.iterdir())
        for path in written:
            sync_folder(path)
        for extra in written:
            if extra != tmp:
                os.replace(extra, dest.parent / extra.name)
        os.replace(tmp, dest)
        sync_folder(dest.parent)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _dynamo(
    module: torch.nn.Module, example: torch.Tensor, names: tuple[str, str], length: bool
) -> Callable[[Path], None]:
    import torch

    def write(path: Path) -> None:
        shapes: dict[int, Any] = {0: torch.export.Dim("batch", min=1, max=65536)}
        if length:
            shapes[1] = torch.export.Dim("length", min=1, max=int(example.shape[1]))
        program = torch.onnx.export(
            module,
            (example,),
            None,
            dynamo=True,
            verbose=False,
            input_names=[names[0]],
            output_names=[names[1]],
            dynamic_shapes=(shapes,),
            opset_version=OPSET,
        )
        assert program is not None
        program.save(path)

    return write


def _torchscript(
    module: torch.nn.Module, example: torch.Tensor, names: tuple[str, str]
) -> Callable[[Path], None]:
    import torch

    def write(path: Path) -> None:
        fastpath = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)
        try:
            torch.onnx.export(
                module,
                (example,),
                str(path),
                dynamo=False,
                input_names=[names[0]],
                output_names=[names[1]],
                dynamic_axes={names[0]: {0: "batch"}, names[1]: {0: "batch"}},
                opset_version=OPSET,
            )
        finally:
            torch.backends.mha.set_fastpath_enabled(fastpath)

    return write


def _export_module(
    module: torch.nn.Module,
    example: torch.Tensor,
    dest: Path,
    names: tuple[str, str],
    dynamic_length: bool = False,
) -> str:
    """Export ``module`` (input and output ``names``) with a dynamic batch axis, and with
    ``dynamic_length`` a dynamic second axis of the input; returns which exporter succeeded.

    TorchScript tracing comes first: with PyTorch's fused attention fast path off it records
    plain MatMul / Softmax graphs that ONNX Runtime's optimiser fuses into its own attention
    and GELU kernels, which ran 5-8% faster on a CPU than the dynamo export of ViT-B-32.
    A dynamic length takes the dynamo export alone: tracing records the attention's reshapes
    with the example's length fixed."""
    module.eval()
    exporters = [("dynamo", _dynamo(module, example, names, dynamic_length))]
    if not dynamic_length:
        exporters.insert(0, ("torchscript", _torchscript(module, example, names)))
    first_error: Exception | None = None
    for label, exporter in exporters:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _atomic_write(dest, exporter)
            return label
        except Exception as e:
            # the graph capture of torch.export rejects some towers that tracing handles
            first_error = first_error or e
    assert first_error is not None
    raise XmodalError(
        f"cannot export to ONNX ({' '.join(str(first_error).split())[:200]}); "
        "drop the #onnx suffix to run with PyTorch"
    )


def _export_cut_or_whole(
    cut: torch.nn.Module | None,
    whole: torch.nn.Module,
    example: torch.Tensor,
    dest: Path,
    names: tuple[str, str],
    dynamic_length: bool = False,
) -> tuple[str, bool]:
    """Export the ``cut`` form of a tower (see ``towers``) if there is one and it exports,
    else the ``whole`` tower; which exporter succeeded, and whether the cut form is in
    ``dest``. ``dynamic_length`` applies to the cut form only."""
    if cut is not None:
        try:
            return _export_module(cut, example, dest, names, dynamic_length), True
        except XmodalError:
            pass  # an exporter that rejects the cut form may take the whole tower
    return _export_module(whole, example, dest, names), False


def export_towers(model: torch.nn.Module, out: Path, tokenizer: Any) -> dict[str, Any]:
    """Write ``image.onnx``, ``text.onnx`` and ``meta.json`` for ``model`` into ``out``."""
    import torch

    m: Any = model
    pp = dict(m.visual.preprocess_cfg)
    size = pp["size"]
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    # a batch of two keeps the exporter from specialising the batch axis to one
    pixels = torch.zeros(2, 3, h, w)
    tokens = tokenizer(["a photo of a cat", "a diagram"])
    start = time.perf_counter()
    with torch.inference_mode(False), torch.no_grad():
        image_exporter, cls_only = _export_cut_or_whole(
            image_module(m) if cls_only_image(m) else None,
            tower_module(m, "encode_image"),
            pixels,
            out / "image.onnx",
            ("pixel_values", "image_embeds"),
        )
        text_exporter, trim = _export_cut_or_whole(
            text_module(m) if trimmable_text(m) else None,
            tower_module(m, "encode_text"),
            tokens,
            out / "text.onnx",
            ("input_ids", "text_embeds"),
            dynamic_length=True,
        )
    meta = {
        "export_version": EXPORT_VERSION,
        "image_size": [h, w],
        "context_length": int(tokens.shape[1]),
        "opset": OPSET,
        "exporters": {"image": image_exporter, "text": text_exporter},
        # the text graph takes any length: a query's tokens after its end are cut
        "text_trim": trim,
        "image_cls_only": cls_only,
        "export_seconds": round(time.perf_counter() - start, 2),
        "torch": torch.__version__,
    }
    atomic_write_text(out / "meta.json", json.dumps(meta, indent=2))
    return meta


def quantize(src: Path, dest: Path) -> float:
    """Weight-only int8 quantisation of ``src`` (see ``int8``) into ``dest``; seconds taken."""
    import onnx

    start = time.perf_counter()
    model = quantized_model(src)
    large = src.stat().st_size > 1_900_000_000

    def write(tmp: Path) -> None:
        onnx.save_model(
            model,
            tmp,
            save_as_external_data=large,
            all_tensors_to_one_file=True,
            location=tmp.name + ".data",
        )

    _atomic_write(dest, write)
    return time.perf_counter() - start


def read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("export_version") != EXPORT_VERSION:
        return None
    if not ((folder / "image.onnx").is_file() and (folder / "text.onnx").is_file()):
        return None
    return dict(meta)


def _require_onnx(name: str) -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise XmodalError(
            f"{name} needs onnx and onnxruntime, which are missing: reinstall xmodal "
            "(pip install -e .), or drop the #onnx suffix to run with PyTorch"
        ) from None


def _ensure_export(w: ResolvedWeights, folder: Path, tokenizer: Any) -> tuple[dict[str, Any], bool]:
    """The export's meta, and whether it had to be made afresh."""
    meta = read_meta(folder)
    if meta is not None:
        return meta, False
    model = load_open_clip(w)
    meta = export_towers(model, folder, tokenizer)
    del model
    # quantised copies of an earlier export would no longer match the new float graphs
    for stale in folder.glob("*.int8.onnx"):
        stale.unlink(missing_ok=True)
    return meta, True


def _int8_session(path: Path, info: dict[str, Any]) -> onnxruntime.InferenceSession:
    """A session on the int8 copy of ``path``, quantising it first when it is missing or was
    made by an older quantiser; the seconds spent quantising go into ``info``."""
    q = path.with_suffix(".int8.onnx")
    if q.is_file():
        sess = session(q)
        if sess.get_modelmeta().custom_metadata_map.get(VERSION_KEY) == str(QUANTIZE_VERSION):
            return sess
        del sess
    spent = quantize(path, q)
    info["quantize_seconds"] = round(info.get("quantize_seconds", 0.0) + spent, 2)
    return session(q)


def lazy_towers(
    folder: Path, backend: str, info: dict[str, Any], trim: bool = False
) -> tuple[Tower, Tower]:
    """The image and text towers of the export in ``folder``, each loaded on first use;
    ``trim`` (the export's ``text_trim``) cuts the padding after the last end-of-text token
    of a batch before the text tower runs."""

    def tower(path: Path, fuse: bool) -> Tower:
        if backend == "onnx-int8":
            return LazyTower(lambda: _int8_session(path, info))
        return LazyTower(lambda: session(path, fuse))

    # the fusions pay on image towers only (see ``fuse``)
    text = tower(folder / "text.onnx", False)
    return tower(folder / "image.onnx", True), (_trimmed(text) if trim else text)


def _trimmed(tower: Tower) -> Tower:
    """``tower`` on the tokens up to each batch's last end-of-text token: with a causal mask
    the padding after it changes nothing, and a short query then costs a few tokens of work
    instead of the whole context (a tenth of the time for a three-word query at 77)."""

    def run(ids: np.ndarray) -> np.ndarray:
        # the end-of-text token is the highest id in CLIP's vocabulary: the pooled position
        end = int(ids.argmax(axis=1).max()) + 1 if ids.size else ids.shape[1]
        return tower(np.ascontiguousarray(ids[:, :end]))

    return run


def tokens_file(folder: Path) -> Path:
    # beside the export folder: the folder holds the graphs and their meta only
    return folder.with_name(folder.name + ".tokens.json")


def _remember(
    folder: Path, meta: dict[str, Any], enc: ClipEncoder, pp_cfg: dict[str, Any], tokens: bool
) -> None:
    """Keep in ``meta.json`` what building ``enc`` needed from open_clip, so that the next
    process builds it from the export alone (see ``quick``)."""
    pre = {k: v for k, v in enc.spec.preprocessing.items() if k != "backend"}
    record = {
        "weights": enc.spec.weights,
        "dim": enc.spec.dim,
        "languages": list(enc.spec.languages),
        "preprocessing": pre,
        "pp_cfg": json.loads(json.dumps(pp_cfg)),
        "batch_size": enc.batch_size,
        "tokens": tokens,
    }
    if meta.get("encoder") != record:
        atomic_write_text(folder / "meta.json", json.dumps({**meta, "encoder": record}, indent=2))


def _tag_book() -> Path:
    return cache_dir() / "onnx" / "tags.json"


def _file_state(file: Path) -> list[Any]:
    """What says a hub file is still the one an export was made from: its size and time,
    and for a hub snapshot the commit its repo's ``main`` ref names now."""
    st = file.stat()
    snapshot = file.parent
    ref = snapshot.parent.parent / "refs" / "main"
    commit = ref.read_text(encoding="utf-8").strip() if ref.is_file() else ""
    return [str(file), st.st_size, st.st_mtime_ns, commit if commit == snapshot.name else ""]


def remember_tag(key: str, folder: Path, file: Path) -> None:
    """Keep which export a tag-named model (``key``: ``MODEL@TAG`` as named) was made into,
    so a later process finds it without open_clip's catalogue (see ``quick``)."""
    try:
        book = json.loads(_tag_book().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        book = {}
    book = book if isinstance(book, dict) else {}
    entry = [folder.name, *_file_state(file)]
    if book.get(key) == entry:
        return
    book[key] = entry
    # a read-only cache: the next process takes the long way
    with contextlib.suppress(OSError):
        atomic_write_text(_tag_book(), json.dumps(book, indent=0, sort_keys=True))


def tag_export(key: str) -> Path | None:
    """The export folder ``remember_tag`` kept for ``key``, if its weights file is unchanged."""
    try:
        book = json.loads(_tag_book().read_text(encoding="utf-8"))
        entry = book[key]
        if not isinstance(entry, list) or len(entry) != 5:
            return None
        if _file_state(Path(entry[1])) != entry[1:]:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return _tag_book().parent / str(entry[0])


def build_onnx_encoder(name: str, w: ResolvedWeights) -> ClipEncoder:
    """A clip encoder whose towers run in ONNX Runtime, exporting them first if needed."""
    _require_onnx(name)
    folder = export_dir(w)
    tokenizer = get_tokenizer(w.name.model, w.name.weights_name())
    info: dict[str, Any] = {"onnx_dir": str(folder)}
    meta, fresh = _ensure_export(w, folder, tokenizer)
    if fresh:
        info["export_seconds"] = meta["export_seconds"]
    tfile = tokens_file(folder)
    has_tokens = tfile.is_file() or save_tokens(tokenizer, tfile)
    ctx = context_length_of(tokenizer, w.name.model)
    fast_tokens = load_tokens(tfile, ctx) if has_tokens else None
    pp_cfg = preprocess_cfg_for(w, meta["image_size"])
    towers = lazy_towers(folder, w.name.backend, info, bool(meta.get("text_trim")))
    enc = assemble_encoder(name, w, pp_cfg, tokenizer, towers, w.name.backend, tokens=fast_tokens)
    # the same dict the towers write their quantising time into when they load
    enc.info = info
    _remember(folder, meta, enc, pp_cfg, fast_tokens is not None)
    if not w.name.is_path:
        remember_tag(name.removeprefix("clip:").partition("#")[0], folder, w.file)
    return enc
