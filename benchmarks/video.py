"""Video indexing speed and moment accuracy on drawn videos with known shots and captions.

    python benchmarks/video.py --videos 6 --seconds 30

Reports video seconds indexed per wall second with ``classic`` (+ ``bm25`` for captions),
the same videos decoded alone (probe, shot scan, frames) and the frames encoded alone, and
moment accuracy: the share of queries whose top moment has temporal IoU >= 0.5 with the
truth, for caption queries (bm25) and pixel queries (a drawing of the shot, ``classic``)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from videos import SHOTS, drawing, make_video, write_srt
from xmodal.collection import Collection
from xmodal.encoders.registry import get_encoder
from xmodal.ingest.video import decode_video
from xmodal.media.limits import DEFAULT_LIMITS
from xmodal.media.walk import walk
from xmodal.query.filters import Filters

WORDS = [
    "apple",
    "river",
    "candle",
    "mountain",
    "violin",
    "tiger",
    "harbor",
    "lantern",
    "meadow",
    "rocket",
]


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def make(root: Path, videos: int, seconds: float) -> tuple[list, list]:
    captions, pixels = [], []
    per = seconds / 4
    for v in range(videos):
        shots = SHOTS[v % 4 :] + SHOTS[: v % 4]
        lengths = [per * (0.6 + 0.2 * ((v + n) % 4)) for n in range(4)]
        truth = make_video(root / f"v{v}.mp4", lengths, size=(320, 180), shots=shots)
        cues = []
        for n, s in enumerate(truth):
            text = f"{WORDS[(v + n) % 10]} {WORDS[(3 * v + n + 1) % 10]} number {v}x{n}"
            cues.append((s.start + 0.3, s.end - 0.3, text))
            captions.append((text, f"v{v}.mp4", (s.start + 0.3, s.end - 0.3)))
        write_srt(root / f"v{v}.srt", cues)
        if v == 0:
            pixels = [(shots[n], (s.start, s.end)) for n, s in enumerate(truth)]
    return captions, pixels


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "videos"
        root.mkdir()
        captions, pixels = make(root, args.videos, args.seconds)
        total = args.videos * args.seconds
        refs = walk([root]).files
        t = time.perf_counter()
        prepared = [decode_video(r, "", DEFAULT_LIMITS) for r in refs]
        decode_s = time.perf_counter() - t
        enc = get_encoder("classic")
        frames = [f for p in prepared if p.video for f in p.video.frames]
        t = time.perf_counter()
        for lo in range(0, len(frames), 32):
            enc.encode_images(frames[lo : lo + 32])
        encode_s = time.perf_counter() - t
        col = Collection.open(Path(tmp) / "db")
        t = time.perf_counter()
        col.index([root], models=["classic", "bm25"])
        index_s = time.perf_counter() - t
        cap_ok = sum(
            bool(h := col.search(q, k=1, model="bm25"))
            and h[0].path.endswith(name)
            and iou((h[0].start or 0, h[0].end or 0), span) >= 0.5
            for q, name, span in captions
        )
        pix_ok = 0
        # every video shows the same four drawings: the moment is looked for in v0
        only_v0 = Filters(path_globs=(str(root / "v0.mp4"),))
        for (shape, colour, bg), span in pixels:
            q = Path(tmp) / f"{shape}.png"
            drawing(shape, colour, bg, (320, 180), 0.4).save(q)
            hits = col.search(image=q, k=1, model="classic", filters=only_v0)
            pix_ok += (
                bool(hits)
                and hits[0].path.endswith("v0.mp4")
                and iou((hits[0].start or 0, hits[0].end or 0), span) >= 0.5
            )
        col.close()
    print(f"videos {args.videos} x {args.seconds:.0f} s = {total:.0f} s, {len(frames)} frames")
    print(f"index (classic+bm25): {index_s:.2f} s wall, {total / index_s:.1f} video s per wall s")
    print(f"decode alone: {decode_s:.2f} s ({total / decode_s:.1f} video s/s)")
    print(f"classic encoder alone on the frames: {encode_s:.2f} s")
    print(f"pipeline / (decode + encode): {index_s / (decode_s + encode_s):.2f}")
    print(f"caption queries: {cap_ok}/{len(captions)} top moment IoU >= 0.5")
    print(f"pixel queries (classic, drawings of v0's shots, within v0): {pix_ok}/{len(pixels)}")


if __name__ == "__main__":
    main()
