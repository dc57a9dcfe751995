"""Every training method described once, as data: what it reads, what it trains, how.

Methods:

- ``heads-infonce`` / ``heads-triplet``: projection heads over frozen image and text
  features, trained with symmetric InfoNCE or a mined triplet loss;
- ``cnn-infonce`` / ``cnn-triplet``: a small CNN learns the pictures from their pixels (with
  augmentation) while a head maps the frozen text features;
- ``fusion-concat`` / ``fusion-sum`` / ``fusion-attention``: the item side fuses its pixels'
  features with the text attached to it (OpenMoji's tags), some of which is hidden at each
  step so the model also works on pictures alone; trained with InfoNCE;
- ``cca``, ``pls``, ``svd``, ``nmf``: classical joint spaces (:mod:`xmodal.learn.baselines`);
- ``pca``, ``lda``: compressed image features (an image-only space).

The training code and the ``trained:DIR`` encoder ask a method's :class:`Method` record what
to do, never its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from xmodal.errors import UsageError

if TYPE_CHECKING:
    from xmodal.learn.models.fusion import FusionKind

#: "neural": towers trained by gradient descent, epoch by epoch (:mod:`xmodal.learn.loop`);
#: "baseline": a closed-form fit (:mod:`xmodal.learn.baselines`)
TrainerKind = Literal["neural", "baseline"]
LossKind = Literal["infonce", "triplet"]


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    trainer: TrainerKind
    #: neural methods: the loss that trains them
    loss: LossKind | None = None
    #: the image side reads pixels (a CNN learns them) instead of a frozen encoder's features
    needs_pixels: bool = False
    #: the image side fuses its features with the text attached to the item, this way
    fusion: FusionKind | None = None
    #: an image-only space: no text encoder, no text side, no text→image metrics
    image_only: bool = False

    @property
    def neural(self) -> bool:
        return self.trainer == "neural"

    @property
    def joint(self) -> bool:
        return not self.image_only


#: every method by name, in the order error messages list them
METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("heads-infonce", "neural", "infonce"),
        Method("heads-triplet", "neural", "triplet"),
        Method("cnn-infonce", "neural", "infonce", needs_pixels=True),
        Method("cnn-triplet", "neural", "triplet", needs_pixels=True),
        Method("fusion-concat", "neural", "infonce", fusion="concat"),
        Method("fusion-sum", "neural", "infonce", fusion="sum"),
        Method("fusion-attention", "neural", "infonce", fusion="attention"),
        Method("cca", "baseline"),
        Method("pls", "baseline"),
        Method("svd", "baseline"),
        Method("nmf", "baseline"),
        Method("pca", "baseline", image_only=True),
        Method("lda", "baseline", image_only=True),
    )
}

FUSION_METHODS: tuple[str, ...] = tuple(m.name for m in METHODS.values() if m.fusion)


def get_method(name: str) -> Method:
    method = METHODS.get(name)
    if method is None:
        raise UsageError(f"unknown method {name!r}; use one of {', '.join(METHODS)}")
    return method
