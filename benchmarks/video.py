"""Video indexing speed and moment accuracy on videos with known shots, captions and speech.

    PYTHONPATH=src python benchmarks/video.py --videos 6 --seconds 30 --runs 3 --clip \\
        --emoji --speech

Speed (interleaved A/B runs, medians, ratios from the same run): video seconds indexed per
wall second with ``classic`` and, with ``--clip``, with CLIP ViT-B-32 through ONNX Runtime
(random weights saved as a user's file and loaded as ``clip:ViT-B-32@FILE#onnx``, as
``benchmarks/clip_cpu.py`` builds them; weights are random, so only speed means anything),
each with ``bm25`` for the captions; and each pipeline against its parts: the same videos
decoded alone (probe, shot scan, frames) plus that encoder alone on the decoded frames.

Moment accuracy (under ``nice``, after the timings): the share of queries whose top moment has
temporal IoU >= 0.5 with the truth, for caption queries (``bm25``), pixel queries (a drawing of
the shot: ``classic`` on drawn shapes; with ``--emoji``, ``emoji-small`` on videos whose shots
are OpenMoji drawings, the query the drawing at another size), spoken queries (``--speech``:
espeak-ng narration heard by ``asr``, the query the sentence), and clip queries (a clip cut
from a video, ``search --video``, on the OpenMoji videos, whose shots differ between videos).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from PIL import Image

from _common import facts_markdown, machine_facts
from videos import SHOTS, cut_clip, drawing, make_video, write_srt
from xmodal.collection import Collection
from xmodal.encoders.registry import get_encoder
from xmodal.ingest.video import decode_video
from xmodal.media.limits import DEFAULT_LIMITS
from xmodal.media.walk import walk
from xmodal.query.filters import Filters

WORDS = ["apple", "river", "candle", "mountain", "violin", "tiger", "harbor", "lantern",
         "meadow", "rocket"]  # fmt: skip
SENTENCES = [
    "the red bicycle is parked beside the bakery",
    "a green frog jumps into the quiet pond",
    "the old lighthouse keeper climbs the stairs",
    "fresh snow covers the mountain village",
    "a yellow kite floats above the beach",
    "the orchestra tunes their violins slowly",
    "a black cat sleeps on the warm windowsill",
    "the train leaves the station at midnight",
]
Span = tuple[float, float]


def iou(a: Span, b: Span) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def top_moment_ok(hits: list, name: str, span: Span) -> bool:
    return (
        bool(hits)
        and os.path.basename(hits[0].path) == name
        and iou((hits[0].start or 0.0, hits[0].end or 0.0), span) >= 0.5
    )


def make_drawn(root: Path, videos: int, seconds: float) -> tuple[list, list]:
    """Drawn shapes, four shots a video, one SRT cue a shot."""
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


def index_seconds(root: Path, db: Path, models: list[str]) -> float:
    col = Collection.open(db)
    try:
        t = time.perf_counter()
        col.index([root], models=models, progress=False)
        return time.perf_counter() - t
    finally:
        col.close()


def parts_seconds(root: Path, encoders: dict[str, object]) -> tuple[float, dict[str, float]]:
    """Decoding alone, and each encoder alone on the frames decoding gave."""
    refs = walk([root]).files
    t = time.perf_counter()
    prepared = [decode_video(r, "", DEFAULT_LIMITS) for r in refs]
    decode_s = time.perf_counter() - t
    frames = [f for p in prepared if p.video for f in p.video.frames]
    out = {}
    for name, enc in encoders.items():
        t = time.perf_counter()
        for lo in range(0, len(frames), 32):
            enc.encode_images(frames[lo : lo + 32])  # type: ignore[attr-defined]
        out[name] = time.perf_counter() - t
    return decode_s, out


def speed(
    root: Path, work: Path, image_models: dict[str, str], runs: int
) -> tuple[list[str], dict[str, float]]:
    """Interleaved runs of each pipeline and of its parts; medians; lines to print."""
    encoders = {label: get_encoder(name) for label, name in image_models.items()}
    probe = [Image.new("RGB", (224, 224), (90, 120, 200))]
    for enc in encoders.values():
        enc.encode_images(probe)  # exports and sessions made before any timing
    index_s: dict[str, list[float]] = {k: [] for k in image_models}
    decode_s: list[float] = []
    encode_s: dict[str, list[float]] = {k: [] for k in image_models}
    labels = list(image_models)
    for r in range(runs):
        for label in labels if r % 2 == 0 else labels[::-1]:
            db = work / f"db-{label}-{r}"
            index_s[label].append(index_seconds(root, db, [image_models[label], "bm25"]))
        d, e = parts_seconds(root, encoders)
        decode_s.append(d)
        for label, s in e.items():
            encode_s[label].append(s)
    med = statistics.median
    lines = [f"decode alone: median {med(decode_s):.2f} s"]
    for label in labels:
        lines.append(
            f"{label}: index median {med(index_s[label]):.2f} s; encoder alone on the frames"
            f" {med(encode_s[label]):.2f} s; pipeline / (decode + encode)"
            f" {med(index_s[label]) / (med(decode_s) + med(encode_s[label])):.2f}"
        )
    return lines, {k: med(v) for k, v in index_s.items()}


def drawn_accuracy(root: Path, db: Path, work: Path, captions: list, pixels: list) -> list[str]:
    """Caption queries (bm25) and pixel queries (classic, within v0) on the drawn videos."""
    with Collection.open(db, create=False) as col:
        cap_ok = sum(
            top_moment_ok(col.search(q, k=1, model="bm25"), name, span)
            for q, name, span in captions
        )
        # every drawn video shows the same four drawings: the moment is looked for in v0
        only_v0 = Filters(path_globs=(str(root / "v0.mp4"),))
        pix_ok = 0
        for (shape, colour, bg), span in pixels:
            q = work / f"{shape}.png"
            drawing(shape, colour, bg, (320, 180), 0.4).save(q)
            hits = col.search(image=q, k=1, model="classic", filters=only_v0)
            pix_ok += top_moment_ok(hits, "v0.mp4", span)
    return [
        f"caption queries (bm25): {cap_ok}/{len(captions)} top moment IoU >= 0.5",
        f"pixel queries (classic, drawings of v0's shots, within v0): {pix_ok}/{len(pixels)}",
    ]


def emoji_shots(work: Path, videos: int) -> list[list[tuple[Image.Image, str]]]:
    """Four OpenMoji drawings for each video, no drawing in two videos: (picture, words)."""
    from xmodal.datasets.openmoji import fetch, load_emojis, rasterise

    extracted = fetch()
    emojis = [e for e in load_emojis(extracted) if e.group == "animals-nature"]
    step = max(1, len(emojis) // (4 * videos))
    chosen = emojis[::step][: 4 * videos]
    paths = rasterise(chosen, extracted, work / "openmoji", size=256)
    pictures = [
        (Image.open(p).convert("RGBA"), e.annotation) for p, e in zip(paths, chosen, strict=True)
    ]
    return [pictures[4 * v : 4 * v + 4] for v in range(videos)]


def emoji_frame(picture: Image.Image, size: tuple[int, int], progress: float) -> Image.Image:
    """The drawing on white, growing and drifting as ``progress`` goes 0..1."""
    w, h = size
    frame = Image.new("RGB", size, (255, 255, 255))
    side = int(min(w, h) * (0.6 + 0.3 * progress))
    icon = picture.resize((side, side))
    x = int((w - side) * (0.2 + 0.6 * progress))
    frame.paste(icon, (x, (h - side) // 2), icon)
    return frame


def make_emoji_videos(root: Path, work: Path, videos: int, seconds: float) -> list:
    """Videos whose shots are OpenMoji drawings; the truth of each shot."""
    import av

    truth = []
    per = seconds / 4
    for v, shots in enumerate(emoji_shots(work, videos)):
        name = f"e{v}.mp4"
        with av.open(str(root / name), "w") as c:
            stream = c.add_stream("libx264", rate=10)
            stream.width, stream.height = 320, 180
            stream.pix_fmt = "yuv420p"
            t, frame_no = 0.0, 0
            for n, (picture, words) in enumerate(shots):
                count = round(per * (0.6 + 0.2 * ((v + n) % 4)) * 10)
                for k in range(count):
                    f = av.VideoFrame.from_image(emoji_frame(picture, (320, 180), k / count))
                    f.pts = frame_no
                    frame_no += 1
                    for p in stream.encode(f):
                        c.mux(p)
                truth.append((name, picture, words, (round(t, 3), round(t + count / 10, 3))))
                t += count / 10
            for p in stream.encode():
                c.mux(p)
    return truth


def emoji_accuracy(root: Path, db: Path, work: Path, truth: list) -> list[str]:
    """Pixel queries with emoji-small (and classic) across all the OpenMoji videos, and clip
    queries: the middle half of each video cut out and searched with ``--video``."""
    ok = {"emoji-small": 0, "classic": 0}
    clip_ok = {"emoji-small": 0, "classic": 0}
    with Collection.open(db, create=False) as col:
        for n, (name, picture, _, span) in enumerate(truth):
            q = work / f"emoji-{n}.png"
            emoji_frame(picture, (200, 200), 0.5).save(q)
            for model in ok:
                ok[model] += top_moment_ok(col.search(image=q, k=1, model=model), name, span)
        names = sorted({t[0] for t in truth})
        for name in names:
            spans = [t[3] for t in truth if t[0] == name]
            cut = (round(spans[-1][1] * 0.3, 1), round(spans[-1][1] * 0.7, 1))
            clip = work / f"clip-{name}"
            cut_clip(root / name, clip, *cut)
            for model in clip_ok:
                hits = col.search(video=clip, k=1, model=model)
                clip_ok[model] += top_moment_ok(hits, name, cut)
    return [
        f"pixel queries (OpenMoji shots, {model}, across {len(names)} videos):"
        f" {ok[model]}/{len(truth)}"
        for model in ok
    ] + [
        f"clip queries (--video, middle 40% cut out, {model}): {clip_ok[model]}/{len(names)}"
        for model in clip_ok
    ]


def speech_accuracy(root: Path, db: Path, videos: int) -> list[str]:
    """Two sentences narrated over each of ``videos`` drawn videos; each sentence a query."""
    from awkward import speech_recording

    truth = []
    for v in range(videos):
        said = [(SENTENCES[(2 * v) % len(SENTENCES)], 1.0), (SENTENCES[(2 * v + 1) % 8], 7.0)]
        sound, spans = speech_recording(said, 12.0, seed=v)
        name = f"s{v}.mp4"
        make_video(root / name, (6.0, 6.0), size=(160, 90), soundtrack=sound)
        truth.extend((text, name, (a, b)) for text, a, b in spans)
    with Collection.open(db) as col:
        col.index([root], models=["asr", "classic", "bm25"], progress=False)
        ok = sum(top_moment_ok(col.search(q, k=1, model="bm25"), n, s) for q, n, s in truth)
    return [f"spoken queries (asr + bm25, espeak-ng narration): {ok}/{len(truth)}"]


def random_clip(work: Path) -> str:
    from clip_cpu import save_random_weights

    weights = work / "ViT-B-32.safetensors"
    save_random_weights("ViT-B-32", weights)
    return f"clip:ViT-B-32@{weights}#onnx"


def timed_part(args: argparse.Namespace, work: Path) -> tuple[Path, list, list, list[str]]:
    root = work / "drawn"
    root.mkdir()
    captions, pixels = make_drawn(root, args.videos, args.seconds)
    total = args.videos * args.seconds
    models = {"classic": "classic"}
    if args.clip:
        models["clip-onnx"] = random_clip(work)
    lines, medians = speed(root, work, models, args.runs)
    out = [f"videos {args.videos} x {args.seconds:.0f} s = {total:.0f} s, {args.runs} runs"]
    out += lines
    for label, s in medians.items():
        out.append(f"{label} + bm25: {total / s:.1f} video s per wall s")
    if "clip-onnx" in medians:
        out.append(
            f"clip-onnx / classic index time: {medians['clip-onnx'] / medians['classic']:.2f}"
        )
    return root, captions, pixels, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--clip", action="store_true", help="also time CLIP ViT-B-32 through ONNX")
    ap.add_argument("--emoji", action="store_true", help="emoji-small on OpenMoji shots")
    ap.add_argument("--speech", action="store_true", help="espeak-ng narration heard by asr")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root, captions, pixels, out = timed_part(args, work)
        os.nice(10)  # what follows measures accuracy, not time
        out += drawn_accuracy(root, work / "db-classic-0", work, captions, pixels)
        if args.emoji:
            emoji_root = work / "emoji"
            emoji_root.mkdir()
            truth = make_emoji_videos(emoji_root, work, args.videos, args.seconds)
            with Collection.open(work / "db-emoji") as col:
                col.index([emoji_root], models=["emoji-small", "classic"], progress=False)
            out += emoji_accuracy(emoji_root, work / "db-emoji", work, truth)
        if args.speech:
            spoken = work / "spoken"
            spoken.mkdir()
            out += speech_accuracy(spoken, work / "db-speech", min(4, args.videos))
    print(facts_markdown(machine_facts()))
    print("\n".join(out))


if __name__ == "__main__":
    main()
