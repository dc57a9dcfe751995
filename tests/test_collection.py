"""The Python API end to end: index, search, incremental changes, removal."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from xmodal import Collection, Filters, IndexOptions, Modality
from xmodal.errors import UsageError


def _names(hits: list) -> list[str]:
    return [os.path.basename(h.path) for h in hits]


def test_auto_chooses_the_offline_set(tmp_path: Path, photo_folder: Path) -> None:
    col = Collection.open(tmp_path / "db")
    col.index([photo_folder / "notes"])
    assert col.encoder_names() == ["classic", "ocr", "e5-multilingual", "bm25"]
    assert len(col.notes) == 1 and "no CLIP weights" in col.notes[0]
    assert Path(col.search("payment for consulting", k=1)[0].path).name == "invoice.md"
    assert Path(col.search("付款", k=1, model="e5-multilingual")[0].path).name == "invoice.md"


def test_index_search_and_incremental(tmp_path: Path, photo_folder: Path) -> None:
    col = Collection.open(tmp_path / "db")
    r = col.index([photo_folder], models=["classic", "minilm"])
    assert (r.added, r.updated, r.removed, r.unchanged, r.skipped) == (5, 0, 0, 0, [])
    assert col.spaces() == ["classic", "minilm"]
    assert len(col) == 5 and {i.modality for i in col} == {Modality.IMAGE, Modality.TEXT}

    # words reach images through sidecars (.txt and .json) and file names
    assert _names(col.search("sandy beach with waves", k=1)) == ["IMG_0001.jpg"]
    assert _names(col.search("pine woods", k=1)) == ["forest.png"]
    assert _names(col.search("a red bicycle", k=1)) == ["red_bicycle.png"]
    assert _names(col.search("payment for consulting", k=1)) == ["invoice.md"]
    # a picture finds itself first
    hits = col.search(image=photo_folder / "pics" / "forest.png", k=3)
    assert _names(hits)[0] == "forest.png"
    assert set(hits[0].spaces) == {"classic", "minilm"}
    # filters
    text_only = col.search("bread", filters=Filters(modalities=frozenset({Modality.TEXT})))
    assert {h.modality for h in text_only} == {Modality.TEXT}
    notes = col.search("anything", filters=Filters(path_globs=(f"{photo_folder}/notes/*",)))
    assert _names(notes) and all("/notes/" in h.path for h in notes)
    # one space only, and a space that cannot take the query
    assert all(set(h.spaces) == {"minilm"} for h in col.search("bread", model="minilm"))
    with pytest.raises(UsageError, match="no space"):
        col.search("bread", model="classic")
    with pytest.raises(UsageError, match="no space 'nope'"):
        col.search("bread", model="nope")

    assert col.index([photo_folder]).unchanged == 5

    # change, move, delete
    ids_before = col.ids()
    (photo_folder / "pics" / "forest.json").write_text('{"caption": "snowy mountain peak"}')
    old = photo_folder / "notes" / "recipe.txt"
    new = photo_folder / "notes" / "bread.txt"
    old.rename(new)
    (photo_folder / "notes" / "invoice.md").unlink()
    r = col.index([photo_folder])
    assert (r.added, r.updated, r.moved, r.removed, r.unchanged) == (0, 2, 1, 1, 2)
    ids_after = col.ids()
    assert ids_after[str(new)] == ids_before[str(old)]
    assert str(old) not in ids_after
    assert _names(col.search("snow on a mountain", k=1)) == ["forest.png"]
    assert _names(col.search("bake bread", k=1)) == ["bread.txt"]


def test_indexing_a_subfolder_leaves_the_rest(tmp_path: Path, photo_folder: Path) -> None:
    col = Collection.open(tmp_path / "db")
    col.index([photo_folder], models=["classic"])
    shutil.rmtree(photo_folder / "notes")
    r = col.index([photo_folder / "pics"])
    assert r.removed == 0 and r.unchanged == 3  # notes are outside this run's roots
    assert col.index([photo_folder]).removed == 2  # now the notes' root is indexed again
    assert len(col) == 3


def test_classic_only_collection_and_adding_a_space(tmp_path: Path, photo_folder: Path) -> None:
    col = Collection.open(tmp_path / "db")
    col.index([photo_folder], models=["classic"])
    assert col.encoder_names() == ["classic"]
    with pytest.raises(UsageError, match="no space"):
        col.search("beach")
    r = col.index([photo_folder], models=["minilm"])
    assert r.updated == 5 and col.encoder_names() == ["classic", "minilm"]
    assert _names(col.search("sandy beach", k=1)) == ["IMG_0001.jpg"]


def test_remove_by_path_and_id(tmp_path: Path, photo_folder: Path) -> None:
    col = Collection.open(tmp_path / "db")
    col.index([photo_folder], models=["classic"])
    ids = col.ids()
    assert col.remove([str(photo_folder / "notes")]) == 2
    some_id = ids[str(photo_folder / "pics" / "forest.png")]
    assert col.remove([some_id]) == 1
    assert len(col) == 2
    assert col.store.check_consistency() == []


def test_mixed_query_moves_results(tmp_path: Path, make_image: Callable[..., Path]) -> None:
    root = tmp_path / "m"
    for name, colour in [
        ("red", (230, 10, 10)),
        ("blue", (10, 10, 230)),
        ("purple", (130, 10, 200)),
    ]:
        make_image(root / f"{name}.png", colour, "square")
    col = Collection.open(tmp_path / "db")
    col.index([root], models=["classic"])
    red = str(root / "red.png")
    plain = col.search(f"img:{red}", k=3)
    assert _names(plain)[0] == "red.png"
    pushed = col.search(f'img:"{red}" - 2*img:"{red}" + 3*img:"{root / "blue.png"}"', k=3)
    assert _names(pushed)[0] == "blue.png"


def test_bad_files_are_reported_and_skipped(tmp_path: Path, photo_folder: Path) -> None:
    (photo_folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    (photo_folder / "empty.jpg").write_bytes(b"")
    col = Collection.open(tmp_path / "db")
    r = col.index([photo_folder], models=["classic"], options=IndexOptions(workers=2))
    assert r.added == 5
    reasons = {os.path.basename(s.path): s.reason for s in r.skipped}
    assert set(reasons) == {"broken.png", "empty.jpg"}
    assert "empty" in reasons["empty.jpg"]


def test_query_image_errors(tmp_path: Path, photo_folder: Path) -> None:
    col = Collection.open(tmp_path / "db")
    col.index([photo_folder], models=["classic"])
    with pytest.raises(UsageError, match="not found"):
        col.search(image=tmp_path / "nope.png")
    with pytest.raises(UsageError, match="not a supported image"):
        col.search(image=photo_folder / "notes" / "recipe.txt")
    with pytest.raises(UsageError, match="nothing to search"):
        col.search(None)
