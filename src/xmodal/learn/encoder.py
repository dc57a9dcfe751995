"""``trained:DIR``: a model directory written by :func:`xmodal.learn.train.train` as an
encoder, so a collection indexes and searches in the learned space.

Images and texts land in one space: an image goes through its frozen feature encoder and
the learned image map (or through the model's own CNN), a text through the frozen text
encoder and the learned text map, so a text query finds images by their pixels. PCA and LDA
models make an image-only space.

The space's ``weights`` tag is a hash of the weights file, and its preprocessing names the
fingerprints of the frozen encoders, so vectors from a retrained model, or from the same
model over a changed frozen encoder, never share a space with older ones.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from xmodal.encoders.base import Encoder, EncoderSpec, TextRole, l2_normalize
from xmodal.encoders.registry import EncoderInfo, register
from xmodal.errors import EncoderMismatchError, UsageError, XmodalError
from xmodal.learn.methods import METHODS
from xmodal.learn.modeldir import read_model_dir, weights_tag
from xmodal.records import Modality

if TYPE_CHECKING:
    from xmodal.learn.baselines import FittedBaseline
    from xmodal.learn.models import JointModel


def _frozen(entry: Mapping[str, Any] | None, role: str, root: Path) -> Encoder | None:
    """The frozen encoder a model was trained over, refused if it now makes other vectors."""
    if entry is None:
        return None
    from xmodal.encoders.registry import get_encoder

    enc = get_encoder(str(entry["name"]))
    now = enc.spec.fingerprint()
    if now != entry["fingerprint"]:
        try:
            before, after = json.loads(entry["fingerprint"]), json.loads(now)
            changed = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
        except (ValueError, AttributeError):  # a fingerprint that is not a JSON object
            changed = ["fingerprint"]
        raise EncoderMismatchError(
            f"{root} was trained on {role} features of {entry['name']!r}, whose "
            f"{', '.join(changed)} changed since; its vectors would not fit the learned map: "
            "retrain the model"
        )
    return enc


class TrainedModel:
    """A loaded model directory: the frozen encoders and the learned maps, ready to embed."""

    def __init__(self, root: Path, check_encoders: bool = True) -> None:
        config, arrays = read_model_dir(root)
        self.root = root
        self.config = config
        self.method = str(config.get("method", ""))
        self.dim = int(config["dim"])
        self.joint = bool(config.get("joint", True))
        self.weights = weights_tag(root)
        encoders = config.get("encoders", {})
        self.image_encoder: Encoder | None = None
        self.text_encoder: Encoder | None = None
        if check_encoders:
            self.image_encoder = _frozen(encoders.get("image"), "image", root)
            self.text_encoder = _frozen(encoders.get("text"), "text", root) if self.joint else None
        self._net: JointModel | None = None
        self._baseline: FittedBaseline | None = None
        self._pixel_size = 0
        method = METHODS.get(self.method)
        if method is None:
            raise XmodalError(f"{root}: unknown method {self.method!r}")
        if method.neural:
            self._net = _build_net(config, arrays, root)
            if self._net.image_takes_pixels:
                self._pixel_size = int(config["arch"]["image"]["image_size"])
        else:
            from xmodal.learn.baselines import BASELINES, FittedBaseline

            # every method METHODS does not train by gradient descent is a baseline's name
            assert self.method in BASELINES
            self._baseline = FittedBaseline.from_arrays(self.method, arrays)
            if self._baseline.dim != self.dim:
                raise XmodalError(f"{root}: config.json and weights disagree on the dimension")
        if self.image_encoder is None and self._pixel_size == 0 and check_encoders:
            raise XmodalError(f"{root}: the model names no way to read images")

    @property
    def pixels(self) -> bool:
        return self._pixel_size > 0

    @property
    def pixel_size(self) -> int:
        """The CNN's input side (0 for a model over frozen image features)."""
        return self._pixel_size

    # -- from features ---------------------------------------------------------------------

    def embed_image_features(self, x: np.ndarray) -> np.ndarray:
        if self._baseline is not None:
            return l2_normalize(self._baseline.image(x))
        assert self._net is not None
        if self._net.image_takes_pixels:
            raise XmodalError(f"{self.root}: this model reads pixels, not image features")
        x = np.asarray(x, dtype=np.float32)
        if self._net.fused:
            # an item seen by its pixels alone: the attached-text slot is marked absent
            return self.embed_fused_features(x, None)
        return self._run(self._net.encode_image, x)

    def embed_fused_features(self, x: np.ndarray, attached: np.ndarray | None) -> np.ndarray:
        """Fusion models: items from their image features and the features of their attached
        text (rows of zeros, or ``None`` for all, where an item has none)."""
        from xmodal.learn.models import fusion_rows

        assert self._net is not None
        if not self._net.fused:
            raise XmodalError(f"{self.root}: a {self.method} model fuses nothing")
        dims = self._net.arch["image"]["in_dims"]
        n = len(x)
        a = np.zeros((n, int(dims[1])), np.float32) if attached is None else attached
        has = np.abs(a).sum(axis=1) > 0
        rows = fusion_rows([x, a], np.stack([np.ones(n, dtype=bool), has], 1))
        return self._run(self._net.encode_image, rows)

    def embed_items(self, images: Sequence[Image.Image], attached: Sequence[str]) -> np.ndarray:
        """Fusion models: items from their pictures and the text attached to each ("" for
        none)."""
        if self.image_encoder is None or self.text_encoder is None:
            raise XmodalError(f"{self.root} was loaded without its frozen encoders")
        x = self.image_encoder.encode_images(images)
        a = self.text_encoder.encode_texts([t or " " for t in attached], role="passage")
        a = a * np.array([[bool(t.strip())] for t in attached], dtype=np.float32)
        return self.embed_fused_features(x, a)

    def embed_text_features(self, y: np.ndarray) -> np.ndarray:
        if not self.joint:
            raise XmodalError(f"{self.root}: a {self.method} model makes an image-only space")
        if self._baseline is not None:
            assert self._baseline.text is not None
            return l2_normalize(self._baseline.text(y))
        assert self._net is not None
        return self._run(self._net.encode_text, np.asarray(y, dtype=np.float32))

    def _run(self, fn: Any, x: np.ndarray) -> np.ndarray:
        import torch

        if len(x) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with torch.inference_mode():
            out = fn(torch.from_numpy(np.ascontiguousarray(x)))
        return l2_normalize(out.numpy())

    # -- from media ------------------------------------------------------------------------

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.pixels:
            from xmodal.learn.models import images_to_tensor

            assert self._net is not None
            import torch

            with torch.inference_mode():
                out = self._net.encode_image(images_to_tensor(images, self._pixel_size))
            return l2_normalize(out.numpy())
        if self.image_encoder is None:
            raise XmodalError(f"{self.root} was loaded without its image encoder")
        return self.embed_image_features(self.image_encoder.encode_images(images))

    @property
    def hears(self) -> bool:
        """The item side is a frozen encoder of sound (``audio-classic``), not of pictures."""
        from xmodal.learn.data import embeds_audio

        return self.image_encoder is not None and embeds_audio(self.image_encoder)

    def embed_audio(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        if not self.hears:
            raise XmodalError(f"{self.root} embeds no recordings")
        assert self.image_encoder is not None
        if not clips:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.embed_image_features(self.image_encoder.encode_audio(clips))

    def embed_texts(self, texts: Sequence[str], role: TextRole = "query") -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.text_encoder is None:
            raise XmodalError(f"{self.root} embeds no text")
        return self.embed_text_features(self.text_encoder.encode_texts(texts, role=role))


def _build_net(
    config: Mapping[str, Any], arrays: Mapping[str, np.ndarray], root: Path
) -> JointModel:
    import torch

    from xmodal.learn.models import JointModel

    try:
        net = JointModel(config["arch"])
        state = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
        net.load_state_dict(state, strict=True)
    except (KeyError, ValueError, RuntimeError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise XmodalError(f"{root}: weights do not fit the architecture ({reason})") from None
    net.eval()
    return net


def load_model(path: str | os.PathLike[str], check_encoders: bool = True) -> TrainedModel:
    """Load a model directory. ``check_encoders=False`` skips loading the frozen encoders
    (for inspecting or embedding precomputed features)."""
    return TrainedModel(Path(path).expanduser().absolute(), check_encoders)


class TrainedEncoder(Encoder):
    batch_size = 32

    def __init__(self, model: TrainedModel, name: str | None = None) -> None:
        self.model = model
        # decode pictures as large as the model saw them in training, and no larger
        self.input_side: int | None = None
        if model.pixels:
            from xmodal.learn.models import cnn_decode_side

            self.input_side = cnn_decode_side(model.pixel_size)
        elif model.image_encoder is not None:
            from xmodal.learn.data import encoder_input_side

            self.input_side = encoder_input_side(model.image_encoder)
        encoders = model.config.get("encoders", {})
        # a head over a sound encoder's features embeds recordings where others embed pictures
        item = Modality.AUDIO if model.hears else Modality.IMAGE
        modalities = {item, Modality.TEXT} if model.joint else {item}
        languages: tuple[str, ...] = ()
        if model.text_encoder is not None:
            languages = model.text_encoder.spec.languages
        self._spec = EncoderSpec(
            name=name or f"trained:{model.root}",
            weights=model.weights,
            dim=model.dim,
            modalities=frozenset(modalities),
            preprocessing={
                "method": model.method,
                "image_encoder": (encoders.get("image") or {}).get("fingerprint"),
                "text_encoder": (encoders.get("text") or {}).get("fingerprint"),
                "image": model.config.get("preprocessing", {}).get("image", {}),
            },
            languages=languages,
        )

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.model.embed_images(images)

    def encode_audio(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        if not self.model.hears:
            raise NotImplementedError(f"encoder {self.name!r} does not embed recordings")
        return self.model.embed_audio(clips)

    def encode_texts(self, texts: Sequence[str], role: TextRole = "passage") -> np.ndarray:
        if not self.model.joint:
            raise NotImplementedError(f"encoder {self.name!r} does not embed text")
        return self.model.embed_texts(texts, role)


def _available() -> tuple[bool, str]:
    # the bare family names no model, so it cannot run as it is; trained:DIR runs offline
    # whenever DIR holds a model (and its frozen encoders are installed)
    return False, "name a model directory made by `xmodal train`: trained:DIR"


TRAINED_INFO = EncoderInfo(
    family="trained",
    description=(
        "a joint image-text space trained with `xmodal train` (heads, CNN, CCA/PLS, SVD/NMF); "
        "trained:DIR"
    ),
    modalities=frozenset({Modality.IMAGE, Modality.TEXT}),
    dim=None,
    languages=(),
    size="varies (model directory)",
    available=_available,
)


def make_trained(arg: str | None) -> Encoder:
    if arg is None or not arg.strip():
        raise UsageError("the trained encoder needs its model directory: trained:DIR")
    # the absolute path goes into the space's name, so the collection can reopen the encoder
    # from any working directory
    path = os.path.abspath(os.path.expanduser(arg.strip()))
    return TrainedEncoder(load_model(path))


register(TRAINED_INFO)(make_trained)


# -- models that ship with xmodal ------------------------------------------------------------

#: model directories inside the package, each registered as an encoder under its own name
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "models"
EMOJI_SMALL = "emoji-small"


def shipped_model_dir(name: str) -> Path:
    return SHIPPED_DIR / name


def _emoji_small_available() -> tuple[bool, str]:
    if not (shipped_model_dir(EMOJI_SMALL) / "config.json").is_file():
        return False, f"the package lacks {shipped_model_dir(EMOJI_SMALL)}; reinstall xmodal"
    from xmodal.encoders.registry import info

    return info("e5-multilingual").available()


def make_emoji_small(arg: str | None) -> Encoder:
    if arg:
        raise UsageError(f"{EMOJI_SMALL} takes no argument, got {EMOJI_SMALL}:{arg}")
    ok, why = _emoji_small_available()
    if not ok:
        raise XmodalError(f"{EMOJI_SMALL} cannot run: {why}")
    return TrainedEncoder(load_model(shipped_model_dir(EMOJI_SMALL)), name=EMOJI_SMALL)


register(
    EncoderInfo(
        family=EMOJI_SMALL,
        description=(
            "emoji and icon drawings <-> text in 100 languages: a small CNN trained from "
            "scratch on OpenMoji, text through e5-multilingual (shipped, offline)"
        ),
        modalities=frozenset({Modality.IMAGE, Modality.TEXT}),
        dim=128,
        languages=("multilingual", "zh", "en"),
        size="~2 MB + e5-multilingual",
        available=_emoji_small_available,
    )
)(make_emoji_small)
