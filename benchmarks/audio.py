"""Audio benchmark: real-time factor of the index pipeline (decode + VAD + ASR + embedding)
against the bare recogniser on the same recordings, word error rate of the default recogniser
on generated speech, and moment accuracy (share of text queries whose top hit overlaps the
spoken interval with IoU >= 0.5), with bootstrap intervals.

    python benchmarks/audio.py --recordings 3 --sentences 4 [--json out.json]

Recordings are espeak-ng sentences over quiet noise at known offsets, so the ground truth of
every moment is exact.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
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


def _bare_asr(files: list[Path]) -> tuple[float, str]:
    from faster_whisper import WhisperModel

    from xmodal.encoders.asr import bundled_whisper

    model = WhisperModel(
        str(bundled_whisper()), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 1
    )
    t0 = time.perf_counter()
    texts = []
    for f in files:
        segs, _ = model.transcribe(
            str(f),
            language="en",
            beam_size=1,
            word_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,
        )
        texts.append(" ".join(s.text for s in segs))
    return time.perf_counter() - t0, " ".join(texts)


def _iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def run(recordings: int, per: int) -> dict[str, Any]:
    import soundfile as sf

    from xmodal.collection import Collection
    from xmodal.encoders.registry import get_encoder, get_extractor
    from xmodal.eval.stats import bootstrap_ci

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "media"
        root.mkdir()
        files, truth = _make(root, recordings, per)
        seconds = sum(sf.info(f).duration for f in files)
        bare_s, _ = _bare_asr(files)
        models = ["asr", "audio-classic", "minilm", "bm25"]
        for m in models:  # loaded before the clock starts, as the bare recogniser is
            (get_extractor if m == "asr" else get_encoder)(m)
        col = Collection.open(Path(tmp) / "db")
        t0 = time.perf_counter()
        col.index([root], models=models)
        pipe_s = time.perf_counter() - t0
        errors = total = 0
        hits_iou = []
        for item in col:
            heard = _words(item.metadata["asr"]["transcript"])
            ref = [w for p, t, _, _ in truth if str(p) == item.path for w in _words(t)]
            errors += word_errors(ref, heard)
            total += len(ref)
        for path, text, a, b in truth:
            top = col.search(text, k=1)[0]
            ok = top.path == str(path) and top.start is not None and top.end is not None
            hits_iou.append(float(ok and _iou((top.start, top.end), (a, b)) >= 0.5))
        col.close()
    acc, lo, hi = bootstrap_ci(hits_iou)
    return {
        "audio_seconds": round(seconds, 1),
        "bare_asr_rtf": round(seconds / bare_s, 3),
        "pipeline_rtf": round(seconds / pipe_s, 3),
        "pipeline_ratio": round(bare_s / pipe_s, 3),
        "wer": round(errors / max(1, total), 4),
        "moment_accuracy": [round(acc, 3), round(lo, 3), round(hi, 3)],
        "queries": len(hits_iou),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--recordings", type=int, default=3)
    ap.add_argument("--sentences", type=int, default=4, help="sentences per recording")
    ap.add_argument("--json")
    args = ap.parse_args()
    out = run(args.recordings, args.sentences)
    facts = machine_facts()
    print(facts_markdown(facts))
    print(md_table(list(out), [list(out.values())]))
    write_json(args.json, {"facts": facts, "results": out})


if __name__ == "__main__":
    main()
