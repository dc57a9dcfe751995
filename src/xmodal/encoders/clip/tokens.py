"""open_clip's CLIP tokenizer rebuilt on the ``tokenizers`` library, so that a text query on
an exported model needs neither open_clip nor torch.

open_clip's ``SimpleTokenizer`` is byte-level BPE over a regex split, with ``</w>`` ending
each word, ``<start_of_text>`` / ``<end_of_text>`` around the ids, the tail truncated to the
context length with the end token kept, zeros after. The same vocabulary and merges go into a
``tokenizers`` BPE model with that split and those rules; the cleaning before it (ftfy,
HTML entities, whitespace, lower case) is open_clip's own sequence of calls. The ids are
checked against open_clip's when the file is written (``save_tokens``).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xmodal.atomic import atomic_write_text

if TYPE_CHECKING:
    import tokenizers

#: what open_clip's regex split keeps (its special tokens are added tokens here)
_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
_SPECIALS = ("<start_of_text>", "<end_of_text>")
#: texts whose ids must agree with open_clip's before the file is trusted
_PROBES = (
    "a photo of a cat",
    "",
    "  A  RED\tbicycle &amp; a <b>dog</b>'s ball!!  ",
    "一只红色的自行车 and émigré café 123",
    "word " * 100,
    "don't stop—it's 3.14 o'clock, isn't it?",
)


def _clean(text: str) -> str:
    import ftfy

    # open_clip's "lower" cleaning: ftfy, HTML entities twice, whitespace, lower case
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return " ".join(text.split()).strip().lower()


class ClipTokens:
    """Texts to ``(n, context_length)`` int64 ids, as open_clip's tokenizer gives them."""

    def __init__(self, tok: tokenizers.Tokenizer, context_length: int) -> None:
        self._tok = tok
        self.context_length = context_length

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, enc in enumerate(self._tok.encode_batch([_clean(t) for t in texts])):
            ids = enc.ids[: self.context_length]
            out[row, : len(ids)] = ids
        return out


def _build(tokenizer: Any) -> tokenizers.Tokenizer:
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors

    merges = [pair for pair, _ in sorted(tokenizer.bpe_ranks.items(), key=lambda kv: kv[1])]
    vocab = dict(tokenizer.encoder)
    tok = Tokenizer(models.BPE(vocab, merges, end_of_word_suffix="</w>", fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_SPLIT), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.add_special_tokens(list(_SPECIALS))
    sot, eot = (vocab[t] for t in _SPECIALS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{_SPECIALS[0]} $A {_SPECIALS[1]}",
        special_tokens=[(_SPECIALS[0], sot), (_SPECIALS[1], eot)],
    )
    ctx = int(tokenizer.context_length)
    tok.enable_truncation(ctx)
    return tok


def _plain_simple_tokenizer(tokenizer: Any) -> bool:
    """Whether ``tokenizer`` is open_clip's SimpleTokenizer with nothing this file leaves out."""
    return (
        type(tokenizer).__name__ == "SimpleTokenizer"
        and getattr(tokenizer, "reduction_fn", None) is None
        and getattr(getattr(tokenizer, "clean_fn", None), "__name__", "") == "_clean_lower"
        and list(getattr(tokenizer, "all_special_ids", ()))
        == [tokenizer.encoder.get(t) for t in _SPECIALS]
        and bool(getattr(tokenizer, "context_length", 0))
    )


def save_tokens(tokenizer: Any, dest: Path) -> bool:
    """Write the ``tokenizers`` twin of open_clip's ``tokenizer`` to ``dest`` when there is
    one and it gives the same ids on the probe texts; False when there is none."""
    if not _plain_simple_tokenizer(tokenizer):
        return False
    tok = _build(tokenizer)
    fast = ClipTokens(tok, int(tokenizer.context_length))
    if not np.array_equal(fast(list(_PROBES)), tokenizer(list(_PROBES)).numpy()):
        return False
    atomic_write_text(dest, tok.to_str())
    return True


def load_tokens(path: Path, context_length: int) -> ClipTokens | None:
    """The tokenizer saved by ``save_tokens``; None when the file is missing or unreadable."""
    try:
        from tokenizers import Tokenizer

        return ClipTokens(Tokenizer.from_str(path.read_text(encoding="utf-8")), context_length)
    except Exception:  # a damaged or foreign file: open_clip's tokenizer takes over
        return None
