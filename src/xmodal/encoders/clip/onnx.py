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
from xmodal.encoders.clip.openclip import assemble_encoder, get_tokenizer, load_open_clip
from xmodal.encoders.clip.weights import ResolvedWeights
from xmodal.errors import XmodalError
from xmodal.paths import cache_dir

if TYPE_CHECKING:
    import onnxruntime
    import torch

#: bump when the exported graphs change meaning, so stale exports are redone
EXPORT_VERSION = 1
OPSET = 18


def export_dir(w: ResolvedWeights) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", w.name.model)
    # the same file under quick-GELU is a different function, so it gets its own graphs
    variant = "-quickgelu" if w.quick_gelu else ""
    return cache_dir() / "onnx" / f"{safe}{variant}-{w.digest[:16]}"


def cpu_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


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


def _export_module(
    module: torch.nn.Module, example: torch.Tensor, dest: Path, input_name: str, output_name: str
) -> str:
    """Export ``module`` with a dynamic batch axis; returns which exporter succeeded."""
    import torch

    module.eval()

    def dynamo(path: Path) -> None:
        batch = torch.export.Dim("batch", min=1, max=65536)
        program = torch.onnx.export(
            module,
            (example,),
            None,
            dynamo=True,
            verbose=False,
            input_names=[input_name],
            output_names=[output_name],
            dynamic_shapes=({0: batch},),
            opset_version=OPSET,
        )
        assert program is not None
        program.save(path)

    def torchscript(path: Path) -> None:
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=False,
            input_names=[input_name],
            output_names=[output_name],
            dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
            opset_version=17,
        )

    first_error: Exception | None = None
    for label, exporter in (("dynamo", dynamo), ("torchscript", torchscript)):
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


def _tower_module(model: Any, method: str) -> torch.nn.Module:
    """One tower of ``model`` (its ``encode_image`` or ``encode_text``) as a module to export."""
    import torch

    class TowerModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = getattr(self.clip, method)(x)
            return out

    return TowerModule()


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
        image_exporter = _export_module(
            _tower_module(m, "encode_image"),
            pixels,
            out / "image.onnx",
            "pixel_values",
            "image_embeds",
        )
        text_exporter = _export_module(
            _tower_module(m, "encode_text"), tokens, out / "text.onnx", "input_ids", "text_embeds"
        )
    meta = {
        "export_version": EXPORT_VERSION,
        "image_size": [h, w],
        "context_length": int(tokens.shape[1]),
        "opset": OPSET,
        "exporters": {"image": image_exporter, "text": text_exporter},
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


def session(path: Path) -> onnxruntime.InferenceSession:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = cpu_cores()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # ORT's warnings about unused initializers would land on the CLI's stderr
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def ort_tower(sess: onnxruntime.InferenceSession) -> Tower:
    input_name = sess.get_inputs()[0].name

    def run(x: torch.Tensor) -> np.ndarray:
        return np.asarray(sess.run(None, {input_name: x.numpy()})[0])

    return run


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


def _int8_session(path: Path) -> tuple[onnxruntime.InferenceSession, float]:
    """A session on the int8 copy of ``path``, quantising it first when it is missing or was
    made by an older quantiser; seconds spent quantising."""
    q = path.with_suffix(".int8.onnx")
    if q.is_file():
        sess = session(q)
        if sess.get_modelmeta().custom_metadata_map.get(VERSION_KEY) == str(QUANTIZE_VERSION):
            return sess, 0.0
        del sess
    spent = quantize(path, q)
    return session(q), spent


def build_onnx_encoder(name: str, w: ResolvedWeights) -> ClipEncoder:
    """A clip encoder whose towers run in ONNX Runtime, exporting them first if needed."""
    _require_onnx(name)
    folder = export_dir(w)
    tokenizer = get_tokenizer(w.name.model, w.name.weights_name())
    info: dict[str, Any] = {"onnx_dir": str(folder)}
    meta, fresh = _ensure_export(w, folder, tokenizer)
    if fresh:
        info["export_seconds"] = meta["export_seconds"]
    paths = (folder / "image.onnx", folder / "text.onnx")
    if w.name.backend == "onnx-int8":
        (image, image_s), (text, text_s) = (_int8_session(p) for p in paths)
        if image_s or text_s:
            info["quantize_seconds"] = round(image_s + text_s, 2)
    else:
        image, text = (session(p) for p in paths)
    pp_cfg = preprocess_cfg_for(w, meta["image_size"])
    towers = (ort_tower(image), ort_tower(text))
    enc = assemble_encoder(name, w, pp_cfg, tokenizer, towers, w.name.backend)
    enc.info.update(info)
    return enc
