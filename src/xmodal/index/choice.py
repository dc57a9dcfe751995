"""Which index a space gets: the collection's setting, and for ``auto`` the space's size.

Thresholds (measured on this kind of machine, docs/benchmarks.md "Approximate indexes"):
exact search costs a scan of every vector per query, about 3 ms per 100k vectors of 512
dimensions on two cores, so up to ``EXACT_BELOW`` vectors it stays under the latency an
approximate index would add with its build; HNSW then answers in well under a millisecond
at recall@10 >= 0.95, but holds every vector and its graph in RAM (about 2.3 kB a vector at
512 dimensions); past ``HNSW_BELOW`` vectors, or when a memory budget says the graph does not
fit, IVF-PQ keeps ``m`` bytes of code per vector in RAM and re-ranks from disk.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from xmodal.errors import UsageError
from xmodal.index.hnsw import DEFAULT_M as HNSW_M
from xmodal.index.ivfpq import DEFAULT_M as IVFPQ_M
from xmodal.index.ivfpq import list_count, pq_subquantizers
from xmodal.store.sqlite import Store

KINDS = ("auto", "exact", "hnsw", "ivfpq")
EXACT_BELOW = 50_000
HNSW_BELOW = 5_000_000
#: share of a memory budget the codes may take; the rest is the process itself
BUDGET_SHARE = 0.75
#: bytes a vector costs in RAM beside its code: its row in the lists and in the row table
IVFPQ_ROW_BYTES = 16
#: recall@10 against exact search after re-ranking 64 x k candidates, nprobe 32, by (vectors,
#: dimensions, bytes of code a vector), on the clustered vectors of benchmarks/scale.py
#: (docs/benchmarks.md, "ANN at 1M and 10M"): at 1M with the lists ``_ivfpq`` gives
#: (benchmarks/scale_memory.py), at 10M with 1,024 lists (benchmarks/scale_compressed.py);
#: other widths and code sizes were not measured and are not guessed
MEASURED_RECALL: dict[tuple[int, int, int], float] = {
    (1_000_000, 512, 8): 0.987,
    (1_000_000, 512, 16): 0.999,
    (1_000_000, 512, 32): 1.000,
    (1_000_000, 512, 64): 1.000,
    (10_000_000, 512, 32): 0.622,
}
SETTINGS_KEY = "index"


@dataclass(frozen=True, slots=True)
class IndexSettings:
    """What the user asked for: a kind (``auto`` by default) and a RAM budget in bytes."""

    kind: str = "auto"
    max_memory: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "max_memory": self.max_memory}


@dataclass(frozen=True, slots=True)
class IndexChoice:
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    #: what the choice costs, for the user
    note: str = ""


def load_settings(store: Store) -> IndexSettings:
    raw = store.get_meta(SETTINGS_KEY)
    try:
        data = json.loads(raw) if raw else {}
        kind = str(data.get("kind", "auto"))
        mem = data.get("max_memory")
        return IndexSettings(kind if kind in KINDS else "auto", int(mem) if mem else None)
    except (ValueError, TypeError, AttributeError):
        return IndexSettings()


def save_settings(store: Store, settings: IndexSettings) -> None:
    if load_settings(store) != settings:
        store.set_meta(SETTINGS_KEY, json.dumps(settings.to_json()))


def parse_memory(text: str) -> int:
    """Bytes in ``512M``, ``1G``, ``1.5GB`` or a plain count of bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if m is None:
        raise UsageError(f"--max-memory {text!r}: give a size such as 512M or 1G")
    scale = 1024 ** " kmgt".index(m.group(2) or " ")
    return int(float(m.group(1)) * scale)


def hnsw_bytes(n: int, dim: int) -> int:
    """RAM of an HNSW graph over ``n`` vectors: the vectors, two levels' worth of links."""
    return n * (4 * dim + 2 * HNSW_M * 4 + 16)


def choose(settings: IndexSettings, n: int, dim: int) -> IndexChoice:
    """The index for a space of ``n`` vectors of ``dim`` dimensions."""
    kind, budget = settings.kind, settings.max_memory
    if kind == "auto":
        if n < EXACT_BELOW:
            kind = "exact"
        elif n < HNSW_BELOW and (budget is None or hnsw_bytes(n, dim) <= budget):
            kind = "hnsw"
        else:
            kind = "ivfpq"
    if kind == "ivfpq":
        return _ivfpq(n, dim, budget)
    if kind == "hnsw" and budget is not None and hnsw_bytes(n, dim) > budget:
        need = hnsw_bytes(n, dim) / 2**20
        return IndexChoice(kind, {}, f"hnsw needs about {need:.0f} MB, over --max-memory")
    return IndexChoice(kind)


def _ivfpq(n: int, dim: int, budget: int | None) -> IndexChoice:
    wanted = IVFPQ_M
    if budget is not None:
        per_vector = (BUDGET_SHARE * budget - list_count(n) * dim * 4) / max(n, 1)
        wanted = max(4, min(64, int(per_vector) - IVFPQ_ROW_BYTES))
    m = pq_subquantizers(dim, wanted)
    sizes = [size for size, d, mm in MEASURED_RECALL if (d, mm) == (dim, m)]
    if not sizes:
        cost = f"recall not measured for {m}-byte codes at {dim} dimensions"
    else:
        # the measurement nearest in size: recall falls as clusters fill up
        size = min(sizes, key=lambda s: abs(math.log(s / max(n, 1))))
        recall = MEASURED_RECALL[(size, dim, m)]
        cost = f"recall@10 {recall:.3f} measured on {size / 1e6:g}M clustered vectors"
    note = f"ivfpq: {m + IVFPQ_ROW_BYTES} bytes per vector in RAM ({m}-byte codes), {cost}"
    return IndexChoice("ivfpq", {"m": m}, note)
