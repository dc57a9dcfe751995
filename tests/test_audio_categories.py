"""Category retrieval over labelled recordings (the Sonic Pi samples benchmark's code path),
run here on tones and noise the test makes: average precision and its chance level, the split
by file, the sample package's unpacking from a local tarball, and the whole measurement with
a head trained by ``xmodal train``."""

from __future__ import annotations

import io
import itertools
import tarfile
from pathlib import Path

import numpy as np
import pytest

from xmodal.datasets import supersonic
from xmodal.errors import XmodalError
from xmodal.eval.audio_categories import (
    average_precision,
    plot_categories,
    random_ap,
    run_categories,
    split_by_file,
)


def test_average_precision_by_hand() -> None:
    # relevant at ranks 1 and 3: (1/1 + 2/3) / 2
    ap = average_precision(np.array([0.9, 0.8, 0.7, 0.1]), np.array([1, 0, 1, 0]))
    assert ap == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision(np.array([0.1, 0.9]), np.array([1, 0])) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        average_precision(np.array([0.1]), np.array([0]))


@pytest.mark.parametrize(("n", "r"), [(1, 1), (4, 1), (5, 2), (6, 3), (6, 6)])
def test_random_ap_is_the_mean_over_every_ranking(n: int, r: int) -> None:
    relevant = np.array([1] * r + [0] * (n - r))
    aps = [
        average_precision(-np.array(order, dtype=float), relevant)
        for order in itertools.permutations(range(n))
    ]
    assert random_ap(n, r) == pytest.approx(float(np.mean(aps)))


def test_split_by_file_keeps_test_files_out_of_training() -> None:
    labels = ["a"] * 10 + ["b"] * 4 + ["c"] * 2 + ["d"] * 3
    train, val, test = split_by_file(labels, seed=3)
    assert sorted(train + val + test) == list(range(len(labels)))
    assert not (set(train) & set(test)) and not (set(val) & set(test))
    for c in "abcd":
        assert any(labels[i] == c for i in test) and any(labels[i] == c for i in train)
    assert any(labels[i] == "b" for i in val) and not any(labels[i] == "c" for i in val)
    assert split_by_file(labels, seed=3) == (train, val, test)


def test_category_is_the_first_word_of_the_name() -> None:
    assert supersonic.category("x/tabla_ghe1.flac") == "tabla"
    assert supersonic.category("bd_808.flac") == "bd"
    with pytest.raises(XmodalError):
        supersonic.category("noise.flac")


def _tarball(path: Path, names: list[str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name in names:
            data = b"fLaC" + name.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_the_sample_package_unpacks_only_its_flac_samples(tmp_path: Path) -> None:
    cats = sorted(supersonic.CATEGORY_WORDS)
    flacs = [f"package/samples/{cats[n % len(cats)]}_{n}.flac" for n in range(206)]
    extra = ["package/samples/bd_haus.aiff", "package/index.js", "package/README.md"]
    good = _tarball(tmp_path / "good.tgz", flacs + extra)
    out = supersonic.fetch(tmp_path / "cache", tarball=good, expected_sha256=None)
    found = supersonic.labelled(out / "samples")
    assert len(found) == 206 and (out / "README.md").is_file()
    assert not list((out / "samples").glob("*.aiff"))
    assert {c for _, c in found} == set(cats)
    short = _tarball(tmp_path / "short.tgz", flacs[:20])
    with pytest.raises(XmodalError, match="20 FLAC samples"):
        supersonic.fetch(tmp_path / "cache2", tarball=short, expected_sha256=None)
    with pytest.raises(XmodalError, match="checksum mismatch"):
        supersonic.fetch(tmp_path / "cache3", tarball=good)


def test_category_map_end_to_end_on_generated_sounds(tmp_path: Path) -> None:
    sf = pytest.importorskip("soundfile")
    pytest.importorskip("librosa")
    from awkward import noise, tone

    makers = {
        "beep": lambda n: tone(1.2, 1800 + 70 * n),
        "hum": lambda n: tone(1.2, 90 + 9 * n),
        "hiss": lambda n: noise(1.2, seed=n, level=0.2),
    }
    folder = tmp_path / "sounds"
    folder.mkdir()
    for kind, make in makers.items():
        for n in range(7):
            sf.write(folder / f"{kind}_{n}.wav", make(n), 16_000)
    samples = supersonic.labelled(folder, "*.wav")
    words = {"beep": "a high beep", "hum": "a low hum", "hiss": "the hiss of static"}
    result = run_categories(
        samples, words, tmp_path / "work",
        train_options=["--epochs", "20", "--dim", "16", "--batch-size", "6",
                       "--set", f"cache_dir={tmp_path / 'cache'}"],
    )  # fmt: skip
    a2a, t2a = result["audio_to_audio"], result["text_to_audio"]
    assert a2a["queries"] == 21 and set(a2a["per_category"]) == set(words)
    # each sample ranks 6 of its kind among 20: chance is about 0.3, these sounds are apart
    assert a2a["chance_map"] == pytest.approx(random_ap(20, 6), abs=1e-4)
    assert a2a["map"] > 0.9 and a2a["map_ci95"][0] <= a2a["map"] <= a2a["map_ci95"][1]
    # one query per category, over the 6 test files (2 of each) no training step saw
    assert t2a["queries"] == 3 and t2a["splits"][0]["test_files"] == 6
    assert t2a["chance_map"] == pytest.approx(random_ap(6, 2), abs=1e-4)
    assert t2a["map"] > t2a["chance_map"]
    train = (tmp_path / "work" / "split0" / "train.tsv").read_text().splitlines()[1:]
    test_names = {Path(p).name for p, _ in samples} - {Path(r.split("\t")[0]).name for r in train}
    val = (tmp_path / "work" / "split0" / "val.tsv").read_text().splitlines()[1:]
    assert len(test_names) - len(val) == 6
    png = plot_categories(result, tmp_path / "categories.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(XmodalError, match="query words"):
        run_categories(samples, {"beep": "a beep"}, tmp_path / "w2")
