"""Audio benchmark: real-time factor of the index pipeline (decode + VAD + ASR + embedding)
against the bare recogniser on the same recordings, word error rate of the default recogniser
on generated speech, and moment accuracy (share of text queries whose top hit overlaps the
spoken interval with IoU >= 0.5), with bootstrap intervals.

    python benchmarks/audio.py --recordings 3 --sentences 4 --repeats 5 [--json out.json]

The pipeline ratio is bare-recogniser seconds over pipeline seconds on the same files, from
interleaved rounds with every model warm; the median and the spread over the rounds are
reported. ``--serial-too`` adds a third side: the pipeline with its audio spaces run after the
recogniser instead of beside it. A last, separate run times each stage of the pipeline.

Recordings are espeak-ng sentences over quiet noise at known offsets, so the ground truth of
every moment is exact.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
sys.path.insert(0, os.path.dirname(__file__))

from _common import facts_markdown, machine_facts, md_table, write_json

SENTENCES = [
    "the red bicycle is parked outside the library",
    "our meeting about the garden project starts at noon",
    "please bring two umbrellas because it will rain tomorrow",
    "the train to the airport leaves from platform seven",
    "she painted the kitchen walls a bright yellow colour",
    "the museum opens early on sunday mornings",
    "my brother plays the violin in a small orchestra",
    "fresh bread is baked every morning in the village",
    "the children built a sandcastle near the harbour",
    "turn left at the bakery and walk past the fountain",
    "the doctor will call you back after lunch",
    "a strong wind blew the leaves across the road",
]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Word-level edit distance (substitutions, insertions, deletions)."""
    prev = list(range(len(hyp) + 1))
    for n, r in enumerate(ref, 1):
        cur = [n] + [0] * len(hyp)
        for m, h in enumerate(hyp, 1):
            cur[m] = min(prev[m] + 1, cur[m - 1] + 1, prev[m - 1] + (r != h))
        prev = cur
    return prev[-1]


def _make(
    root: Path, recordings: int, per: int
) -> tuple[list[Path], list[tuple[Path, str, float, float]]]:
    import soundfile as sf

    from awkward import speech_recording

    files, truth = [], []
    for r in range(recordings):
        chosen = SENTENCES[(r * per) % len(SENTENCES) :][:per]
        parts = [(s, 2.0 + 9.0 * n) for n, s in enumerate(chosen)]
        samples, spoken = speech_recording(parts, 2.0 + 9.0 * len(parts) + 2.0, seed=r)
        path = root / f"recording_{r}.wav"
        sf.write(path, samples, 16_000)
        files.append(path)
        truth.extend((path, text, a, b) for text, a, b in spoken)
    return files, truth


def _whisper() -> Any:
    from faster_whisper import WhisperModel

    from xmodal.encoders.asr import bundled_whisper

    return WhisperModel(
        str(bundled_whisper()), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 1
    )


def _bare_asr(model: Any, files: list[Path]) -> float:
    """Seconds the recogniser alone takes over the whole files, as one would run it by hand."""
    t0 = time.perf_counter()
    for f in files:
        segs, _ = model.transcribe(
            str(f),
            language="en",
            beam_size=1,
            word_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,
        )
        for _ in segs:  # the generator does the work
            pass
    return time.perf_counter() - t0


class StageClock:
    """Seconds spent in each stage of the index pipeline, summed over threads: where the
    pipeline's time goes beyond the recogniser's (a separate run: timers cost a little)."""

    STAGES = (
        ("xmodal.ingest.audio", "decode_prepared", "decode + VAD + cut (decoding threads)"),
        ("xmodal.media.audio_segments", "speech_regions", "  of which VAD"),
        ("xmodal.ingest.audio", "hear_speech", "ASR (main thread)"),
        ("xmodal.ingest.audio", "embed_spans", "audio-classic (beside the ASR)"),
        ("xmodal.ingest.pipeline", "encode_batch", "whole batch encode (main thread)"),
    )

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {label: 0.0 for _, _, label in self.STAGES}
        self._lock = threading.Lock()
        self._undo: list[tuple[Any, str, Any]] = []

    def _wrap(self, fn: Any, label: str) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds[label] += time.perf_counter() - t0

        return timed

    def __enter__(self) -> StageClock:
        import importlib

        import xmodal.ingest.encode as encode

        for module, name, label in self.STAGES:
            mod = importlib.import_module(module)
            fn = getattr(mod, name)
            wrapped = self._wrap(fn, label)
            for holder in {mod, encode}:
                if getattr(holder, name, None) is fn:
                    self._undo.append((holder, name, fn))
                    setattr(holder, name, wrapped)
        return self

    def __exit__(self, *exc: object) -> None:
        for holder, name, fn in reversed(self._undo):
            setattr(holder, name, fn)


def _iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def _pipeline(root: Path, db: Path, models: list[str]) -> tuple[float, Any]:
    from xmodal.collection import Collection

    col = Collection.open(db)
    t0 = time.perf_counter()
    col.index([root], models=models)
    return time.perf_counter() - t0, col


def _quality(col: Any, truth: list[tuple[Path, str, float, float]]) -> dict[str, Any]:
    from xmodal.eval.stats import bootstrap_ci

    errors = total = 0
    hits_iou = []
    for item in col:
        heard = _words(item.metadata["asr"]["transcript"])
        ref = [w for p, t, _, _ in truth if str(p) == item.path for w in _words(t)]
        errors += word_errors(ref, heard)
        total += len(ref)
    # past 3 recordings the sentences repeat: each is asked once, and a hit on any
    # recording that says it counts
    said: dict[str, list[tuple[str, float, float]]] = {}
    for path, text, a, b in truth:
        said.setdefault(text, []).append((str(path), a, b))
    for text in said:
        top = col.search(text, k=1)[0]
        ok = top.start is not None and top.end is not None
        hits_iou.append(
            float(ok and any(p == top.path and _iou((top.start, top.end), (a, b)) >= 0.5
                             for p, a, b in said[text]))
        )  # fmt: skip
    acc, lo, hi = bootstrap_ci(hits_iou)
    return {
        "wer": round(errors / max(1, total), 4),
        "moment_accuracy": [round(acc, 3), round(lo, 3), round(hi, 3)],
        "queries": len(hits_iou),
    }


def _serial(root: Path, db: Path, models: list[str]) -> tuple[float, Any]:
    """The pipeline with the audio spaces run after the recogniser, not beside it."""
    import xmodal.ingest.encode as encode

    aside = encode._embed_sound_aside
    encode._embed_sound_aside = lambda *args: {}  # type: ignore[assignment]
    try:
        return _pipeline(root, db, models)
    finally:
        encode._embed_sound_aside = aside  # type: ignore[assignment]


def _ratios(bare: list[float], other: list[float], seconds: float, name: str) -> dict[str, Any]:
    ratios = sorted(b / p for b, p in zip(bare, other, strict=True))
    return {
        f"{name}_rtf_median": round(seconds / statistics.median(other), 2),
        f"{name}_ratio_median": round(statistics.median(ratios), 3),
        f"{name}_ratio_min_max": [round(ratios[0], 3), round(ratios[-1], 3)],
        f"{name}_ratios": [round(r, 3) for r in ratios],
    }


# long: one measurement, its warm-up and its interleaved repeats read best in one place
def run(
    recordings: int, per: int, repeats: int = 5, profile: bool = True, serial: bool = False
) -> dict[str, Any]:
    """Bare recogniser and whole pipeline (and, with ``serial``, the pipeline with its audio
    spaces after the recogniser), interleaved ``repeats`` times with the order rotating, so
    drifting load falls on every side, and every model warm before any clock."""
    import soundfile as sf

    from xmodal.encoders.registry import get_encoder, get_extractor

    models = ["asr", "audio-classic", "minilm", "bm25"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "media"
        root.mkdir()
        files, truth = _make(root, recordings, per)
        seconds = sum(sf.info(f).duration for f in files)
        whisper = _whisper()
        for m in models:
            (get_extractor if m == "asr" else get_encoder)(m)
        # first calls pay lazy imports and kernel set-up (librosa alone takes ~1.5 s): warm
        # every side on one recording so no clock counts them
        warm = Path(tmp) / "warm"
        warm.mkdir()
        os.link(files[0], warm / files[0].name)
        _bare_asr(whisper, [files[0]])
        _pipeline(warm, Path(tmp) / "db-warm", models)[1].close()
        sides = ["bare", "pipeline", *(["serial"] if serial else [])]
        took: dict[str, list[float]] = {side: [] for side in sides}
        col = None
        for rep in range(repeats):
            for side in sides[rep % len(sides) :] + sides[: rep % len(sides)]:
                if side == "bare":
                    took[side].append(_bare_asr(whisper, files))
                    continue
                if col is not None:
                    col.close()
                run_side = _pipeline if side == "pipeline" else _serial
                t, col = run_side(root, Path(tmp) / f"db-{side}{rep}", models)
                took[side].append(t)
            done = ", ".join(f"{side} {took[side][-1]:.2f} s" for side in sides)
            print(f"  round {rep + 1}: {done}", file=sys.stderr)
        assert col is not None
        out: dict[str, Any] = {"audio_seconds": round(seconds, 1), "repeats": repeats}
        out["bare_asr_rtf_median"] = round(seconds / statistics.median(took["bare"]), 2)
        for side in sides[1:]:
            out.update(_ratios(took["bare"], took[side], seconds, side))
        out.update(_quality(col, truth))
        col.close()
        if profile:
            with StageClock() as clock:
                t, col = _pipeline(root, Path(tmp) / "db-profile", models)
                col.close()
            out["profile_pipeline_s"] = round(t, 2)
            out["profile_stage_s"] = {k: round(v, 2) for k, v in clock.seconds.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--recordings", type=int, default=3)
    ap.add_argument("--sentences", type=int, default=4, help="sentences per recording")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved bare/pipeline pairs")
    ap.add_argument("--no-profile", action="store_true", help="skip the per-stage run")
    ap.add_argument(
        "--serial-too",
        action="store_true",
        help="also time the pipeline with its audio spaces after the recogniser",
    )
    ap.add_argument("--json")
    args = ap.parse_args()
    out = run(args.recordings, args.sentences, args.repeats, not args.no_profile, args.serial_too)
    facts = machine_facts()
    print(facts_markdown(facts))
    print(md_table(list(out), [list(out.values())]))
    write_json(args.json, {"facts": facts, "results": out})


if __name__ == "__main__":
    main()
