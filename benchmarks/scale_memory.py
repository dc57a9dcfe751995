"""What ``--max-memory`` costs in recall: IVF-PQ at each code size a budget can pick, with the
rest of its parameters as the choice gives them (``index/choice.py``: nlist by size, nprobe
32), re-ranking ``rerank`` x k candidates by the exact vectors; recall@10 against exact
search on the mixture of benchmarks/scale.py.

    python benchmarks/scale_memory.py --n 1000000 --ms 8,16,32,64 --reranks 16,64 \
        --cache /work/scale-cache
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from scale import cached_mixture, cached_truth, latencies, mixture, ms, recall, top10
from xmodal.index.choice import IVFPQ_ROW_BYTES
from xmodal.index.ivfpq import IvfPqIndex


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--ms", default="8,16,32,64", help="bytes of PQ code per vector")
    ap.add_argument("--reranks", default="16", help="re-ranking factors (x k) to measure")
    ap.add_argument("--cache", help="folder keeping the vectors and ground truth between runs")
    ap.add_argument("--out", help="append the rows as JSON lines to this file")
    args = ap.parse_args()
    x = cached_mixture(args.cache, args.n, seed=1)
    q = mixture(args.queries, seed=2)
    gt = cached_truth(args.cache, x, q, 10)
    for m in (int(v) for v in args.ms.split(",")):
        work = Path(tempfile.mkdtemp(prefix="xmodal-memory-", dir=args.cache))
        idx = IvfPqIndex(m=m, workdir=work)
        t = time.perf_counter()
        idx.build(np.arange(args.n, dtype=np.int64), x)
        build = time.perf_counter() - t
        for rerank in (int(v) for v in args.reranks.split(",")):
            idx.rerank = rerank
            got, lat = latencies(top10(idx), q)
            row = {"n": args.n, "m": m, "ram_bytes_per_vector": m + IVFPQ_ROW_BYTES,
                   "params": idx.params(), "build_s": round(build, 1),
                   "recall@10": round(recall(got, gt), 4), "p50_ms": ms(lat, 50),
                   "loadavg": os.getloadavg()}  # fmt: skip
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")
        del idx
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
