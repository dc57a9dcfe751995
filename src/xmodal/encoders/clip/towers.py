"""The modules each tower is exported from.

Besides a tower as its model computes it (``tower_module``), two cut the work that cannot
change the vector, each only where the model's structure guarantees that:

- ``text_module``: a causal text tower pooled at its end-of-text token, for any sequence
  length, so that a query's padding is cut before the graph runs (``onnx.lazy_towers``);
- ``image_module``: a vision transformer pooled at its class token, whose last block updates
  only that token: the other tokens' attention outputs and MLPs in the last block feed
  nothing (a twelfth of the block's attention inputs stay, 6% of ViT-B-32's work goes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def tower_module(model: Any, method: str) -> torch.nn.Module:
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


def trimmable_text(model: Any) -> bool:
    """Whether a text tower's vector depends on the tokens up to the end-of-text token only:
    a causal mask (no token sees a later one) and the vector taken at the highest token id,
    the end-of-text token of CLIP's vocabulary. Then the padding after it can be cut."""
    import open_clip

    return (
        isinstance(model, open_clip.CLIP)
        and getattr(model, "text_pool_type", None) == "argmax"
        and getattr(model, "attn_mask", None) is not None
    )


def text_module(model: Any) -> torch.nn.Module:
    """``model.encode_text`` for any sequence length up to the context: the positions and
    the causal mask cut to the tokens given. Only for ``trimmable_text`` models."""
    import torch
    from open_clip.transformer import text_global_pool

    class TextModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, text: torch.Tensor) -> torch.Tensor:
            m = self.clip
            n = text.shape[1]
            cast = m.transformer.get_cast_dtype()
            x = m.token_embedding(text).to(cast) + m.positional_embedding[:n].to(cast)
            x = m.ln_final(m.transformer(x, attn_mask=m.attn_mask[:n, :n]))
            x = text_global_pool(x, text, "argmax")
            if m.text_projection is None:
                return x
            if isinstance(m.text_projection, torch.nn.Linear):
                return m.text_projection(x)
            out: torch.Tensor = x @ m.text_projection
            return out

    return TextModule()


def cls_only_image(model: Any) -> bool:
    """Whether ``model.encode_image`` is a plain vision transformer pooled at its class
    token: no attention pooler, no token outputs, self-attention blocks only."""
    import open_clip
    from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

    v = getattr(model, "visual", None)
    if not isinstance(model, open_clip.CLIP | open_clip.CustomTextCLIP):
        return False
    if not isinstance(v, VisionTransformer) or type(v).forward is not VisionTransformer.forward:
        return False
    blocks = list(v.transformer.resblocks)
    return (
        v.pool_type == "tok"
        and v.attn_pool is None
        and not v.output_tokens
        and bool(blocks)
        and all(type(b) is ResidualAttentionBlock and not hasattr(b, "ln_1_kv") for b in blocks)
    )


def image_module(model: Any) -> torch.nn.Module:
    """``model.encode_image`` with the last block run for the class token alone (its keys and
    values still from every token). Only for ``cls_only_image`` models."""
    import torch

    class ImageModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            v = self.clip.visual
            t = v.transformer
            x = v._embeds(pixels)  # [batch, tokens, width]
            x = x if t.batch_first else x.transpose(0, 1)
            for block in t.resblocks[:-1]:
                x = block(x)
            last = t.resblocks[-1]
            cls = x[:, :1] if t.batch_first else x[:1]
            h = last.ln_1(x)
            q = h[:, :1] if t.batch_first else h[:1]
            y = cls + last.ls_1(last.attn(q, h, h, need_weights=False)[0])
            y = y + last.ls_2(last.mlp(last.ln_2(y)))
            # layer norm is per token: after pooling or before, the class token's is the same
            pooled = v.ln_post(y[:, 0] if t.batch_first else y[0])
            out: torch.Tensor = pooled if v.proj is None else pooled @ v.proj
            return out

    return ImageModule()
