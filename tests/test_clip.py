"""CLIP-family encoders, offline: tiny random open_clip and transformers models built from
configs, saved the way published weights are, and loaded through the path a user's file or
cache entry takes."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from helpers import draw_image

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from xmodal.encoders import clip as clip_mod  # noqa: E402
from xmodal.encoders.registry import get_encoder  # noqa: E402
from xmodal.errors import UsageError, XmodalError  # noqa: E402

# the transformers route needs torch alone; the open_clip route needs open_clip + torchvision
needs_open_clip = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("open_clip", "torchvision")),
    reason="open_clip and torchvision are not installed (xmodal[clip])",
)

TINY = "xmodal-tiny-vit"
TINY_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
TEXTS = ["a red circle", "", "word " * 300, "一只红色的自行车", "x"]
MISSING = "clip:ViT-B-32@laion2b_s34b_b79k"


def _images() -> list[Image.Image]:
    return [
        draw_image((200, 30, 30), "circle"),
        draw_image((20, 40, 220), "square", size=300),
        Image.new("RGB", (1, 1), (0, 255, 0)),
        Image.new("RGB", (120, 30), (10, 10, 10)),
        draw_image((90, 90, 90), "triangle").convert("L"),
    ]


def _tiny_state_dict(seed: int = 0) -> dict[str, Any]:
    import open_clip

    torch.manual_seed(seed)
    model = open_clip.create_model(TINY)
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The tiny architecture registered with open_clip, its weights as .safetensors, and an
    ONNX cache of its own."""
    open_clip = pytest.importorskip("open_clip")
    root = tmp_path_factory.mktemp("clip")
    cfg_path = root / f"{TINY}.json"
    cfg_path.write_text(json.dumps(TINY_CFG))
    open_clip.add_model_config(cfg_path)
    weights = root / "tiny.safetensors"
    safetensors_torch.save_file(_tiny_state_dict(), weights)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XMODAL_CACHE", str(root / "cache"))
        yield {"root": root, "weights": weights, "cfg": cfg_path}


@pytest.fixture(scope="module")
def name(env: dict[str, Path]) -> str:
    return f"clip:{TINY}@{env['weights']}"


def _check(vecs: np.ndarray, n: int, dim: int) -> None:
    assert vecs.shape == (n, dim)
    assert vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1))


# -- names ------------------------------------------------------------------------------------


@needs_open_clip
def test_name_syntax() -> None:
    p = clip_mod.parse_clip_name
    assert p(None) is None
    assert p("ViT-B-32") == clip_mod.ClipName("ViT-B-32", None, "torch")
    assert p("ViT-B-32@openai#onnx-int8") == clip_mod.ClipName("ViT-B-32", "openai", "onnx-int8")
    got = p("MobileCLIP-S2@/w/a@b#c.safetensors#onnx")
    assert got == clip_mod.ClipName("MobileCLIP-S2", "/w/a@b#c.safetensors", "onnx")
    assert got.is_path and not clip_mod.ClipName("m", "laion2b_s34b_b79k").is_path
    assert clip_mod.ClipName("m", "w.safetensors").is_path
    with pytest.raises(UsageError, match="#onnx"):
        p("ViT-B-32@openai#tensorrt")
    with pytest.raises(UsageError, match="ViT-B-32"):
        clip_mod.resolve_weights(clip_mod.ClipName("ViT-B-33"))
    with pytest.raises(UsageError, match="laion2b_s34b_b79k"):
        clip_mod.resolve_weights(clip_mod.ClipName("ViT-B-32", "nosuchtag"))


# -- the open_clip route ----------------------------------------------------------------------


def test_vectors_in_one_space(name: str) -> None:
    enc = get_encoder(name)
    assert enc.name == name
    assert enc.spec.modalities == {"image", "text"}
    imgs, texts = _images(), TEXTS
    _check(enc.encode_images(imgs), len(imgs), enc.spec.dim)
    _check(enc.encode_texts(texts), len(texts), enc.spec.dim)
    assert enc.spec.dim == 32
    assert enc.encode_images([]).shape == (0, 32)
    assert enc.encode_texts([]).shape == (0, 32)


def test_deterministic_and_batch_size_invariant(name: str) -> None:
    enc: Any = get_encoder(name)
    imgs = _images()
    a = enc.encode_images(imgs)
    assert np.array_equal(a, enc.encode_images(imgs))
    saved = enc.batch_size, enc.text_batch_size
    try:
        enc.batch_size, enc.text_batch_size = 2, 1
        b = enc.encode_images(imgs)
        t = enc.encode_texts(TEXTS)
    finally:
        enc.batch_size, enc.text_batch_size = saved
    assert np.allclose(a, b, atol=1e-5)
    assert np.allclose(enc.encode_texts(TEXTS), t, atol=1e-5)
    single = np.concatenate([enc.encode_images([im]) for im in imgs])
    assert np.allclose(a, single, atol=1e-5)


def test_preprocessing_recorded_and_applied(name: str, env: dict[str, Path]) -> None:
    import open_clip

    enc: Any = get_encoder(name)
    pre = enc.spec.preprocessing
    assert pre["image_size"] == [32, 32]
    assert pre["resize_mode"] == "shortest" and pre["crop"] == "center"
    assert pre["interpolation"] == "bicubic"
    assert pre["mean"] == pytest.approx(list(open_clip.OPENAI_DATASET_MEAN))
    assert pre["std"] == pytest.approx(list(open_clip.OPENAI_DATASET_STD))
    assert pre["context_length"] == 16 and pre["tokenizer"] == "SimpleTokenizer"
    assert pre["backend"] == "torch"
    sha = hashlib.sha256(env["weights"].read_bytes()).hexdigest()
    assert enc.spec.weights == sha[:16]
    json.dumps(enc.spec.to_json())  # the collection stores it as JSON
    # the encoder's pixels are open_clip's own evaluation transform of the same image
    model = enc.model
    from open_clip.transform import PreprocessCfg, image_transform_v2

    transform = image_transform_v2(PreprocessCfg(**model.visual.preprocess_cfg), is_train=False)
    im = draw_image((20, 40, 220), "square", size=300).resize((300, 120))
    with torch.inference_mode():
        ref = model.encode_image(transform(im)[None]).numpy()
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    assert np.allclose(enc.encode_images([im]), ref, atol=1e-5)


def test_torch_state_dict_file_loads_like_safetensors(name: str, env: dict[str, Path]) -> None:
    ref = get_encoder(name)
    imgs = _images()[:2]
    for legacy in (False, True):
        pt = env["root"] / f"tiny-{legacy}.pt"
        # both of torch.save's formats: the zip archive and the older plain pickle stream
        torch.save(
            {"state_dict": _tiny_state_dict()}, pt, _use_new_zipfile_serialization=not legacy
        )
        enc = get_encoder(f"clip:{TINY}@{pt}")
        assert np.allclose(enc.encode_images(imgs), ref.encode_images(imgs), atol=1e-6)


class _Payload:
    """A pickle that runs code when loaded: creates the file it names."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def test_pickle_with_objects_is_refused(env: dict[str, Path]) -> None:
    marker = env["root"] / "pwned"
    evil = env["root"] / "evil.pt"
    with open(evil, "wb") as f:
        pickle.dump({"state_dict": {"x": _Payload(marker)}}, f)
    with pytest.raises(XmodalError, match="weights_only=True") as info:
        get_encoder(f"clip:{TINY}@{evil}")
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_missing_file_and_wrong_architecture(env: dict[str, Path]) -> None:
    with pytest.raises(XmodalError, match="weights file not found"):
        get_encoder(f"clip:{TINY}@{env['root'] / 'nope.safetensors'}")
    other = env["root"] / "other.safetensors"
    safetensors_torch.save_file({"visual.proj": torch.zeros(3, 3)}, other)
    with pytest.raises(XmodalError, match="cannot load the weights") as info:
        get_encoder(f"clip:{TINY}@{other}")
    assert "\n" not in str(info.value)


def test_collection_index_and_search(name: str, tmp_path: Path) -> None:
    from xmodal.collection import Collection

    media = tmp_path / "media"
    media.mkdir()
    colours = {"red": (220, 20, 20), "blue": (20, 40, 220), "green": (20, 160, 40)}
    for n, (label, rgb) in enumerate(colours.items()):
        draw_image(rgb, ("circle", "square", "triangle")[n]).save(media / f"{label}.png")
    with Collection.open(tmp_path / "db") as col:
        report = col.index([media], models=[name])
        assert report.added == 3 and not report.skipped
        assert col.spaces() == [name]
        by_text = col.search("a red circle", k=3)
        assert len(by_text) == 3 and {h.modality for h in by_text} == {"image"}
        by_image = col.search(image=media / "blue.png", k=3)
        assert Path(by_image[0].path).name == "blue.png"
        assert by_image[0].score > by_image[1].score
        stored = col.store.spaces()[name].spec
        assert stored.preprocessing == get_encoder(name).spec.preprocessing


# -- ONNX Runtime -----------------------------------------------------------------------------


def test_onnx_and_int8_match_eager(name: str, env: dict[str, Path]) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    eager = get_encoder(name)
    fast: Any = get_encoder(name + "#onnx")
    int8: Any = get_encoder(name + "#onnx-int8")
    imgs = _images()
    ei, et = eager.encode_images(imgs), eager.encode_texts(TEXTS)
    for enc, floor in ((fast, 0.999), (int8, 0.99)):
        vi, vt = enc.encode_images(imgs), enc.encode_texts(TEXTS)
        _check(vi, len(imgs), 32)
        assert _cos(ei, vi).min() >= floor
        assert _cos(et, vt).min() >= floor
        # the batch axis is dynamic; int8 quantises weights ahead and activations row by row,
        # so an image's vector does not depend on the company it keeps
        single = np.concatenate([enc.encode_images([im]) for im in imgs])
        assert _cos(single, vi).min() >= (0.99999 if enc is fast else 0.9999)
    pre = {**eager.spec.preprocessing}
    assert {**fast.spec.preprocessing, "backend": "torch"} == pre
    assert int8.spec.preprocessing["backend"] == "onnx-int8"
    fingerprints = {e.spec.fingerprint() for e in (eager, fast, int8)}
    assert len(fingerprints) == 3
    folder = Path(fast.info["onnx_dir"])
    assert folder.parent == env["root"] / "cache" / "onnx"
    assert folder.name.startswith(f"{TINY}-") and folder.name.endswith(eager.spec.weights)
    assert {p.name for p in folder.iterdir()} == {
        "image.onnx",
        "text.onnx",
        "image.int8.onnx",
        "text.int8.onnx",
        "meta.json",
    }
    # a second load reuses the export instead of redoing it
    from xmodal.encoders.clip.onnx import build_onnx_encoder

    parsed = clip_mod.parse_clip_name(name.removeprefix("clip:") + "#onnx")
    assert parsed is not None
    again = build_onnx_encoder("again", clip_mod.resolve_weights(parsed))
    assert "export_seconds" not in again.info
    assert np.allclose(again.encode_texts(TEXTS), fast.encode_texts(TEXTS), atol=1e-6)


def test_int8_vectors_do_not_depend_on_batch_neighbours(name: str) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    int8: Any = get_encoder(name + "#onnx-int8")
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    imgs = _images()
    for n, item in enumerate(imgs):
        alone = int8.encode_images([item])
        others = imgs[:n] + imgs[n + 1 :]
        for company in (others, [noise], [noise, noise, *others]):
            assert _cos(alone, int8.encode_images([item, *company])[:1]).min() >= 0.9999
            assert _cos(alone, int8.encode_images([*company, item])[-1:]).min() >= 0.9999
    for n, text in enumerate(TEXTS):
        alone = int8.encode_texts([text])
        others = TEXTS[:n] + TEXTS[n + 1 :]
        for words in (others, [TEXTS[2]] * 3, ["x"]):
            assert _cos(alone, int8.encode_texts([text, *words])[:1]).min() >= 0.9999
            assert _cos(alone, int8.encode_texts([*words, text])[-1:]).min() >= 0.9999


# -- tags from the Hugging Face cache ---------------------------------------------------------


@pytest.fixture
def fake_hub(env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A published tag for the tiny model, laid out in a hub cache as a download leaves it."""
    from huggingface_hub import constants
    from open_clip import pretrained

    cache = tmp_path / "hub"
    repo = cache / "models--xmodal-test--tiny-openclip"
    data = env["weights"].read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    commit = "0" * 40
    (repo / "blobs").mkdir(parents=True)
    (repo / "blobs" / sha).write_bytes(data)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    (snap / "open_clip_model.safetensors").symlink_to(Path("../../blobs") / sha)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    tag = {
        "hf_hub": "xmodal-test/tiny-openclip/",
        "mean": (0.0, 0.0, 0.0),
        "std": (1.0, 1.0, 1.0),
        "interpolation": "bilinear",
        "resize_mode": "shortest",
    }
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setitem(pretrained._PRETRAINED, TINY, {"tinytag": tag})
    return cache


def test_tag_from_hub_cache(fake_hub: Path, env: dict[str, Path]) -> None:
    w = clip_mod.resolve_weights(clip_mod.ClipName(TINY))  # no tag: the default one
    assert w.name.source == "tinytag" and w.label == "tinytag"
    assert w.digest == hashlib.sha256(env["weights"].read_bytes()).hexdigest()
    enc = clip_mod.build_torch_encoder(f"clip:{TINY}", w)
    pre = enc.spec.preprocessing
    assert pre["mean"] == [0.0, 0.0, 0.0] and pre["std"] == [1.0, 1.0, 1.0]
    assert pre["interpolation"] == "bilinear"
    assert enc.spec.weights == "tinytag"
    assert f"clip:{TINY}@tinytag" in clip_mod.cached_weights()
    ok, why = clip_mod._clip_available()
    assert ok and f"clip:{TINY}@tinytag" in why
    # a cached tag needs no network to pull: checked against its hash and returned
    assert clip_mod.pull(f"clip:{TINY}@tinytag").read_bytes()[:8]
    blob = next((fake_hub / "models--xmodal-test--tiny-openclip" / "blobs").iterdir())
    blob.write_bytes(b"corrupted")
    with pytest.raises(XmodalError, match="checksum mismatch"):
        clip_mod.pull(f"clip:{TINY}@tinytag")


def test_tag_named_onnx_model_loads_again_without_open_clip(
    fake_hub: Path, env: dict[str, Path]
) -> None:
    """A tag resolved once by the long way is found again from the export's book: a new
    process embeds a query with neither open_clip nor torch; a changed hub file is not
    trusted."""
    pytest.importorskip("onnxruntime")
    name = f"clip:{TINY}@tinytag#onnx"
    want = get_encoder(name).encode_texts(["a red circle"])
    code = (
        "import sys, json; from xmodal.encoders.registry import get_encoder; "
        f"v = get_encoder({name!r}).encode_texts(['a red circle']); "
        "print(json.dumps([v[0].tolist(), [m for m in ('open_clip', 'torch') "
        "if m in sys.modules]]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    vector, heavy = json.loads(proc.stdout.strip().splitlines()[-1])
    assert heavy == []
    np.testing.assert_allclose(vector, want[0], atol=1e-5)
    from xmodal.encoders.clip.onnx import tag_export

    assert tag_export(f"{TINY}@tinytag") is not None
    blob = next((fake_hub / "models--xmodal-test--tiny-openclip" / "blobs").iterdir())
    os.utime(blob, ns=(1, 1))
    assert tag_export(f"{TINY}@tinytag") is None


class _Counted:
    """A ``Progress`` that keeps what it was told."""

    def __init__(self, log: list[tuple[str, int]], total: int) -> None:
        self.log = log
        log.append(("total", total))

    def update(self, n: int = 1) -> None:
        self.log.append(("update", n))

    def close(self) -> None:
        self.log.append(("close", 0))


def test_pull_reports_the_download_to_the_callers_progress(
    fake_hub: Path, env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A download reports its bytes to a ``Progress`` from the caller's factory, as the
    hub drives its bars: made with the total, updated per chunk, closed."""
    import huggingface_hub

    # the package's ``pull`` is the function; its module is patched
    pull_mod = importlib.import_module("xmodal.encoders.clip.pull")

    data = env["weights"].read_bytes()
    blob = fake_hub / "fresh" / hashlib.sha256(data).hexdigest()

    def download(repo: str, filename: str, tqdm_class: Any, **_: Any) -> str:
        blob.parent.mkdir(parents=True, exist_ok=True)
        with tqdm_class(unit="B", unit_scale=True, total=len(data), desc=filename) as bar:
            half = len(data) // 2
            blob.write_bytes(data[:half])
            bar.update(half)
            blob.write_bytes(data)
            bar.update(len(data) - half)
        return str(blob)

    monkeypatch.setattr(pull_mod, "cached_tag_file", lambda model, tag: None)
    monkeypatch.setattr(pull_mod, "_ensure_online", lambda name: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    log: list[tuple[str, int]] = []
    got = clip_mod.pull(f"clip:{TINY}@tinytag", progress=lambda total: _Counted(log, total))
    assert got == blob
    half = len(data) // 2
    assert log == [
        ("total", len(data)),
        ("update", half),
        ("update", len(data) - half),
        ("close", 0),
    ]
    log.clear()
    # without a factory nothing is drawn and nothing fails
    assert clip_mod.pull(f"clip:{TINY}@tinytag") == blob and log == []


# -- missing weights --------------------------------------------------------------------------

_CLI = "import sys, xmodal.encoders.clip; from xmodal.cli import main; sys.exit(main(sys.argv[1:]))"


def _run_cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    hf_home = tmp_path / "hf-empty"
    hf_home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(hf_home),
        "XMODAL_CACHE": str(tmp_path / "xm-cache"),
    }
    env.pop("HF_HUB_CACHE", None)
    return subprocess.run(
        [sys.executable, "-c", _CLI, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@needs_open_clip
def test_cli_missing_weights_names_the_fix(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    draw_image((200, 30, 30)).save(media / "a.png")
    proc = _run_cli(
        ["index", str(media), "--db", str(tmp_path / "db"), "--model", MISSING], tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"xmodal models pull {MISSING}" in lines[0]
    assert "clip:ViT-B-32@/path/to/weights.safetensors" in lines[0]


@needs_open_clip
def test_cli_search_missing_weights_names_the_fix(tmp_path: Path) -> None:
    # a collection indexed on a machine that had the weights, searched on one that has not
    from xmodal.encoders.base import EncoderSpec
    from xmodal.records import Modality
    from xmodal.store.sqlite import Store

    store = Store(tmp_path / "db")
    modalities = frozenset({Modality.IMAGE, Modality.TEXT})
    store.ensure_space(EncoderSpec(MISSING, "laion2b_s34b_b79k", 512, modalities))
    store.close()
    args = ["search", "a red circle", "--db", str(tmp_path / "db"), "--model", MISSING]
    proc = _run_cli(args, tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"xmodal models pull {MISSING}" in lines[0]


@needs_open_clip
def test_pull_fails_fast_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(XmodalError, match="HF_HUB_OFFLINE") as info:
        clip_mod.pull(MISSING)
    assert "\n" not in str(info.value)
    # online mode, but nothing answers: a refused connection, reported at once
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "https://127.0.0.1")
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    start = time.monotonic()
    with pytest.raises(XmodalError, match="unreachable"):
        clip_mod.pull(MISSING)
    assert time.monotonic() - start < 10
    with pytest.raises(UsageError, match="local file"):
        clip_mod.pull(f"clip:{TINY}@/some/file.safetensors")


# -- the transformers route -------------------------------------------------------------------


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from bytes to printable characters."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    chars, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


def _clip_tokenizer_files(folder: Path) -> None:
    """A CLIP BPE vocabulary with no merges: every byte is a token. Real CLIP vocabularies
    come from the hub; this one is written here so the tokenizer loads offline."""
    symbols = list(_bytes_to_unicode().values())
    vocab = [*symbols, *(s + "</w>" for s in symbols), "<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({v: i for i, v in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")


@pytest.fixture(scope="module")
def bpe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bpe")
    _clip_tokenizer_files(root)
    return root


def save_tiny_hf_clip(root: Path, bpe_dir: Path) -> Path:
    """A tiny random transformers CLIP model and its processor saved under ``root/model``,
    with the byte-pair vocabulary in ``bpe_dir``."""
    import transformers

    tokenizer = transformers.CLIPTokenizer(str(bpe_dir / "vocab.json"), str(bpe_dir / "merges.txt"))
    processor = transformers.CLIPProcessor(
        image_processor=transformers.CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
        tokenizer=tokenizer,
    )
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    config = transformers.CLIPConfig(
        text_config={**small, "num_attention_heads": 2, "max_position_embeddings": 77},
        vision_config={**small, "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=24,
    )
    torch.manual_seed(0)
    out = root / "model"
    transformers.CLIPModel(config).save_pretrained(out)
    processor.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def hf_model_dir(tmp_path_factory: pytest.TempPathFactory, bpe_dir: Path) -> Path:
    pytest.importorskip("transformers")
    return save_tiny_hf_clip(tmp_path_factory.mktemp("hfclip"), bpe_dir)


def test_hf_clip_route(hf_model_dir: Path) -> None:
    enc: Any = get_encoder(f"hf-clip:{hf_model_dir}")
    imgs = _images()
    vi, vt = enc.encode_images(imgs), enc.encode_texts(TEXTS)
    _check(vi, len(imgs), 24)
    _check(vt, len(TEXTS), 24)
    assert np.array_equal(vi, enc.encode_images(imgs))
    pre = enc.spec.preprocessing
    assert pre["model_type"] == "clip" and pre["tokenizer"] == "CLIPTokenizer"
    assert pre["image_processor"]["crop_size"] == {"height": 32, "width": 32}
    assert len(enc.spec.weights) == 16
    # same vectors as the model run by hand on the processor's inputs
    inputs = enc._processor(text=["a red circle"], return_tensors="pt", padding=True)
    with torch.inference_mode():
        ref = enc._model.get_text_features(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
        ).pooler_output.numpy()
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    assert np.allclose(enc.encode_texts(["a red circle"]), ref, atol=1e-5)


def test_hf_siglip_pads_to_full_length(tmp_path: Path, bpe_dir: Path) -> None:
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.CLIPTokenizer(str(bpe_dir / "vocab.json"), str(bpe_dir / "merges.txt"))
    processor = transformers.SiglipProcessor(
        image_processor=transformers.SiglipImageProcessor(size={"height": 32, "width": 32}),
        tokenizer=tokenizer,
    )
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    config = transformers.SiglipConfig(
        text_config={**small, "num_attention_heads": 2, "vocab_size": 49408},
        vision_config={**small, "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
    )
    config.text_config.max_position_embeddings = 16
    torch.manual_seed(0)
    transformers.SiglipModel(config).save_pretrained(tmp_path / "siglip")
    processor.save_pretrained(tmp_path / "siglip")
    enc: Any = get_encoder(f"hf-clip:{tmp_path / 'siglip'}")
    assert enc.spec.preprocessing["text"] == {
        "padding": "max_length",
        "max_length": 16,
        "truncation": True,
    }
    assert enc.spec.preprocessing["image_processor"]["image_mean"] == [0.5, 0.5, 0.5]
    _check(enc.encode_images(_images()), len(_images()), 32)
    vt = enc.encode_texts(TEXTS)
    _check(vt, len(TEXTS), 32)
    # trained on fully padded text: a text's vector does not depend on its batch neighbours
    assert np.allclose(enc.encode_texts(TEXTS[:1]), vt[:1], atol=1e-5)


def test_hf_clip_missing_repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    with pytest.raises(XmodalError, match="xmodal models pull hf-clip:nobody/none") as info:
        get_encoder("hf-clip:nobody/none")
    assert "\n" not in str(info.value)
