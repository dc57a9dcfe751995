"""Encoders: one module per family behind one interface and a registry."""

from xmodal.encoders.base import Encoder, EncoderSpec, l2_normalize
from xmodal.encoders.registry import families, get_encoder, info, register

__all__ = [
    "Encoder",
    "EncoderSpec",
    "families",
    "get_encoder",
    "info",
    "l2_normalize",
    "register",
]
