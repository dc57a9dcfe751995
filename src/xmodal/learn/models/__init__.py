"""Trainable parts of a joint space, each built from a plain-data description.

- :mod:`.heads`: :class:`ProjectionHead`, frozen encoder features → the shared space (linear,
  or a 2-layer MLP with dropout), L2-normalised so that dot products are cosines;
- :mod:`.cnn`: :class:`ConvTower`, a small CNN trained from scratch on 64-128 px pictures,
  with the augmentations of :class:`Augment` (:mod:`.augment`);
- :mod:`.fusion`: :class:`AttentionFusion` / :class:`ConcatFusion` / :class:`WeightedSumFusion`,
  several per-modality feature vectors of one item (its pixels, text read from it, text
  attached to it) into one vector, and :class:`FusionTower` over them;
- :mod:`.joint`: :class:`JointModel`, an image tower and a text tower (and the InfoNCE
  temperature), built from an ``arch`` dict that is saved next to the weights, so a model
  directory is rebuilt without code specific to it.

Every tower's description is a frozen dataclass with the JSON form of
:class:`~xmodal.learn.models.tower_config.TowerConfig`.
"""

from xmodal.learn.models.augment import Augment
from xmodal.learn.models.cnn import (
    CnnConfig,
    ConvTower,
    cnn_decode_side,
    images_to_tensor,
    uint8_to_tensor,
)
from xmodal.learn.models.fusion import (
    AttentionFusion,
    ConcatFusion,
    FusionConfig,
    FusionTower,
    WeightedSumFusion,
    fusion_rows,
)
from xmodal.learn.models.heads import HeadConfig, ProjectionHead
from xmodal.learn.models.joint import JointModel, parameter_bytes

__all__ = [
    "AttentionFusion",
    "Augment",
    "CnnConfig",
    "ConcatFusion",
    "ConvTower",
    "FusionConfig",
    "FusionTower",
    "HeadConfig",
    "JointModel",
    "ProjectionHead",
    "WeightedSumFusion",
    "cnn_decode_side",
    "fusion_rows",
    "images_to_tensor",
    "parameter_bytes",
    "uint8_to_tensor",
]
