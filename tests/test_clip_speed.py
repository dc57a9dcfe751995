"""The CLIP fast paths: pixels in Pillow and NumPy equal to the weights' torchvision
transform, open_clip's token ids from the ``tokenizers`` twin, hashes of weights files kept,
pixels prepared in the decoding threads, and a text query on an exported model that never
imports torch, open_clip or transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from helpers import draw_image

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")
safetensors_torch = pytest.importorskip("safetensors.torch")

from xmodal.encoders.clip import weights as weights_mod  # noqa: E402
from xmodal.encoders.clip.pixels import pixel_transform  # noqa: E402
from xmodal.encoders.clip.tokens import load_tokens, save_tokens  # noqa: E402

TINY = "xmodal-tiny-vit-speed"
TINY_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
TEXTS = ["a red circle", "", "word " * 300, "一只红色的自行车", "x", "Don't &amp; <b>BOLD</b>!"]


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(1)
    noise = Image.fromarray(rng.integers(0, 256, (77, 131, 3), dtype=np.uint8))
    return [
        draw_image((200, 30, 30), "circle"),
        draw_image((20, 40, 220), "square", size=300),
        Image.new("RGB", (1, 1), (0, 255, 0)),
        Image.new("RGB", (120, 30), (10, 10, 10)),
        draw_image((90, 90, 90), "triangle").convert("L"),
        noise,
        noise.transpose(Image.Transpose.ROTATE_90).convert("RGBA"),
    ]


@pytest.mark.parametrize(
    "cfg",
    [
        {"size": 32},
        {"size": 224, "interpolation": "bilinear"},
        {"size": (40, 40), "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)},
        {"size": (24, 48), "resize_mode": "squash"},
        {"size": 33, "interpolation": "random"},
    ],
)
def test_pixels_equal_torchvision_transform(cfg: dict[str, Any]) -> None:
    from open_clip.transform import PreprocessCfg, image_transform_v2

    pp = PreprocessCfg(**cfg)
    reference = image_transform_v2(pp, is_train=False)
    fast = pixel_transform({**PreprocessCfg().__dict__, **cfg})
    assert fast is not None
    for im in _images():
        rgb = im.convert("RGB")
        want = reference(rgb).numpy()
        got = fast(im)
        assert got.shape == want.shape and got.dtype == np.float32
        assert np.abs(got - want).max() <= 1e-5


def test_pixels_leave_modes_they_do_not_reproduce_to_torchvision() -> None:
    assert pixel_transform({"size": 32, "resize_mode": "longest", "mean": 0, "std": 1}) is None
    assert pixel_transform({"size": (24, 48), "mean": 0, "std": 1}) is None


@pytest.mark.parametrize("context", [77, 16])
def test_tokens_equal_open_clip(tmp_path: Path, context: int) -> None:
    reference = open_clip.get_tokenizer("ViT-B-32")
    reference.context_length = context
    assert save_tokens(reference, tmp_path / "t.json")
    fast = load_tokens(tmp_path / "t.json", context)
    assert fast is not None
    assert np.array_equal(fast(TEXTS), reference(TEXTS).numpy())


def test_weights_hash_kept_by_path_size_and_mtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XMODAL_CACHE", str(tmp_path / "cache"))
    f = tmp_path / "w.safetensors"
    f.write_bytes(b"weights" * 1000)
    calls: list[Path] = []
    real = weights_mod.sha256_file

    def counting(path: Path) -> str:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(weights_mod, "sha256_file", counting)
    first = weights_mod.cached_sha256(f)
    assert weights_mod.cached_sha256(f) == first and len(calls) == 1
    f.write_bytes(b"other" * 1000)
    os.utime(f, ns=(1, 1))
    assert weights_mod.cached_sha256(f) != first and len(calls) == 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("clip-speed")
    cfg_path = root / f"{TINY}.json"
    cfg_path.write_text(json.dumps(TINY_CFG))
    open_clip.add_model_config(cfg_path)
    torch.manual_seed(0)
    model = open_clip.create_model(TINY)
    weights = root / "tiny.safetensors"
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    safetensors_torch.save_file(state, weights)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XMODAL_CACHE", str(root / "cache"))
        yield {"root": root, "name": f"clip:{TINY}@{weights}"}


class _Recording:
    """Wraps an encoder to see which thread prepares pixels and which call embeds them."""

    def __init__(self, enc: Any) -> None:
        self._enc = enc
        self.threads: set[str] = set()
        self.prepared_batches = 0

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._enc, attr)

    def prepare_image(self, image: Image.Image) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        return np.asarray(self._enc.prepare_image(image))

    def encode_prepared(self, pixels: Sequence[np.ndarray]) -> np.ndarray:
        self.prepared_batches += 1
        return np.asarray(self._enc.encode_prepared(pixels))

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        raise AssertionError("pixels should come prepared from the decoding threads")


def test_ingest_prepares_pixels_in_decoding_threads(tiny: dict[str, Any], tmp_path: Path) -> None:
    from xmodal.encoders.registry import get_encoder
    from xmodal.ingest.pipeline import run_index
    from xmodal.store.sqlite import Store

    enc = get_encoder(tiny["name"] + "#onnx")
    media = tmp_path / "media"
    media.mkdir()
    for n, im in enumerate(_images()):
        im.convert("RGB").save(media / f"{n}.png")
    rec = _Recording(enc)
    store = Store(tmp_path / "db")
    store.ensure_space(enc.spec)
    report = run_index(store, [str(media)], [rec])  # type: ignore[list-item]
    assert report.added == len(_images())
    assert rec.prepared_batches >= 1
    assert rec.threads and all(t.startswith("xmodal-decode") for t in rec.threads)
    vecs = enc.encode_images(_images())
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    store.close()


_PROBE = """
import json, sys
from xmodal.cli import main
rc = main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "open_clip", "transformers", "torchvision") if m in sys.modules)
print("HEAVY=" + json.dumps(heavy))
sys.exit(rc)
"""


def test_text_query_on_onnx_collection_imports_no_torch(
    tiny: dict[str, Any], tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    from xmodal.collection import Collection

    name = tiny["name"] + "#onnx"
    media = tmp_path / "media"
    media.mkdir()
    for label, rgb in {"red": (220, 20, 20), "blue": (20, 40, 220)}.items():
        draw_image(rgb).save(media / f"{label}.png")
    with Collection.open(tmp_path / "db") as col:
        assert col.index([media], models=[name]).added == 2
        want = [Path(h.path).name for h in col.search("a red circle", k=2)]
    env = {**os.environ, "XMODAL_CACHE": str(tiny["root"] / "cache")}
    args = ["search", "a red circle", "--db", str(tmp_path / "db"), "--json", "-k", "2"]
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    heavy = json.loads(proc.stdout.strip().splitlines()[-1].removeprefix("HEAVY="))
    assert heavy == []
    hits = json.loads("\n".join(proc.stdout.strip().splitlines()[:-1]))
    assert [Path(h["path"]).name for h in hits["results"]] == want


def test_lookup_imports_only_the_family_asked_for() -> None:
    code = (
        "import sys, xmodal.catalogue; from xmodal.encoders import registry; "
        "registry.info('bm25'); "
        "print(sorted(m for m in ('xmodal.encoders.classic', 'xmodal.encoders.clip', "
        "'xmodal.encoders.ocr', 'scipy') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]"


def test_optimised_graph_kept_and_loaded_with_optimisers_off(tiny: dict[str, Any]) -> None:
    ort = pytest.importorskip("onnxruntime")
    from xmodal.encoders.clip import load
    from xmodal.encoders.clip.runtime import _options, optimised_path, session

    first = load(tiny["name"] + "#onnx").encode_texts(TEXTS)
    enc = load(tiny["name"] + "#onnx")
    text = Path(enc.info["onnx_dir"]) / "text.onnx"
    kept = optimised_path(text)
    assert kept.is_file() and kept.with_suffix(".data").is_file()
    np.testing.assert_allclose(enc.encode_texts(TEXTS), first, atol=1e-6)
    ids = np.zeros((2, 16), dtype=np.int64)
    ids[:, :3] = [49406, 320, 49407]
    plain = ort.InferenceSession(str(text), _options(True), providers=["CPUExecutionProvider"])
    want = plain.run(None, {plain.get_inputs()[0].name: ids})[0]
    kept.write_bytes(b"not a graph")
    again = session(text)
    assert kept.stat().st_size > 100
    np.testing.assert_allclose(again.run(None, {again.get_inputs()[0].name: ids})[0], want)


def test_int8_copy_not_quantised_again_from_its_optimised_graph(tiny: dict[str, Any]) -> None:
    pytest.importorskip("onnxruntime")
    from xmodal.encoders.clip import load

    first = load(tiny["name"] + "#onnx-int8")
    v1 = first.encode_texts(TEXTS)
    second = load(tiny["name"] + "#onnx-int8")
    np.testing.assert_allclose(second.encode_texts(TEXTS), v1, atol=1e-6)
    assert "quantize_seconds" not in second.info


def test_image_tower_fused_once_with_the_same_vectors(tiny: dict[str, Any], tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    from xmodal.encoders.clip import load
    from xmodal.encoders.clip.fuse import fused_copy
    from xmodal.encoders.clip.runtime import _options, optimised_path

    enc = load(tiny["name"] + "#onnx")
    pixels = np.stack([enc.prepare_image(im) for im in _images()])
    got = enc._image_tower(pixels)
    image = Path(enc.info["onnx_dir"]) / "image.onnx"
    assert optimised_path(image, True).is_file()
    assert optimised_path(image, True) != optimised_path(image, False)
    fused = fused_copy(image, tmp_path)
    assert fused is not None
    ops = {n.op_type for n in __import__("onnx").load(str(fused)).graph.node}
    assert "BiasGelu" in ops
    plain = ort.InferenceSession(str(image), _options(False), providers=["CPUExecutionProvider"])
    want = plain.run(None, {plain.get_inputs()[0].name: pixels})[0]
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert cos.min() >= 0.9999


def test_text_tower_runs_on_the_tokens_up_to_the_end_of_text(
    tiny: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The padding after the end-of-text token is cut before the text graph runs (a causal
    mask lets no token see it), and the vectors stay those of the whole context in eager
    PyTorch."""
    pytest.importorskip("onnxruntime")
    from xmodal.encoders.clip import load
    from xmodal.encoders.clip.runtime import LazyTower

    eager = load(tiny["name"]).encode_texts(TEXTS)
    enc = load(tiny["name"] + "#onnx")
    assert json.loads((Path(enc.info["onnx_dir"]) / "meta.json").read_text())["text_trim"]
    lengths: list[int] = []
    real = LazyTower.__call__

    def spy(self: LazyTower, x: np.ndarray) -> np.ndarray:
        lengths.append(x.shape[1])
        return real(self, x)

    monkeypatch.setattr(LazyTower, "__call__", spy)
    fast = enc.encode_texts(TEXTS)
    assert float(np.min(np.sum(fast * eager, axis=1))) >= 0.9999
    # "word " * 300 fills the context of 16: the batch keeps every position
    assert lengths == [16]
    lengths.clear()
    one = enc.encode_texts(["a red circle"])
    assert lengths == [5]  # start, three words, end
    assert float(np.sum(one[0] * eager[0])) >= 0.9999


def test_image_tower_runs_its_last_block_for_the_class_token_alone(
    tiny: dict[str, Any],
) -> None:
    """The exported image graph updates only the class token in its last block (the vector
    is pooled there); its vectors stay those of eager PyTorch, the whole block run."""
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from xmodal.encoders.clip import load

    images = _images()
    eager = load(tiny["name"]).encode_images(images)
    enc = load(tiny["name"] + "#onnx")
    folder = Path(enc.info["onnx_dir"])
    assert json.loads((folder / "meta.json").read_text())["image_cls_only"]
    fast = enc.encode_images(images)
    assert float(np.min(np.sum(fast * eager, axis=1))) >= 0.9999
    # the last block's MLP (the graph's last MatMuls but the projection) runs on one token
    model = onnx.load(str(folder / "image.onnx"))
    fc = [n for n in model.graph.node if n.op_type in ("MatMul", "Gemm")][-3]
    model.graph.output.append(onnx.helper.make_empty_tensor_value_info(fc.input[0]))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    pixels = np.stack([enc.prepare_image(im) for im in images[:3]])
    mlp_in = sess.run([fc.input[0]], {sess.get_inputs()[0].name: pixels})[0]
    assert mlp_in.size == 3 * mlp_in.shape[-1]  # one token of each of the 3 images


def test_towers_exported_whole_when_the_cut_form_fails(
    tiny: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exporter that rejects the text tower with a dynamic length leaves the whole tower,
    at the context's length and untrimmed, with the same vectors."""
    pytest.importorskip("onnxruntime")
    from xmodal.encoders.clip import load
    from xmodal.encoders.clip import onnx as onnx_mod

    def rejecting(*args: Any, **kwargs: Any) -> Any:
        def write(path: Path) -> None:
            raise RuntimeError("no dynamic shapes here")

        return write

    monkeypatch.setenv("XMODAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(onnx_mod, "_dynamo", rejecting)
    enc = load(tiny["name"] + "#onnx")
    meta = json.loads((Path(enc.info["onnx_dir"]) / "meta.json").read_text())
    assert meta["text_trim"] is False and meta["exporters"]["text"] == "torchscript"
    assert meta["image_cls_only"] is True
    eager = load(tiny["name"]).encode_texts(TEXTS)
    assert float(np.min(np.sum(enc.encode_texts(TEXTS) * eager, axis=1))) >= 0.9999
