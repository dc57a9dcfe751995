"""The main job on its embedded default: OpenMoji's drawings indexed as pictures alone (no
caption, no tags, numbered file names) with the shipped ``emoji-small`` model, then searched
with words in English and Chinese, a mixed query and a picture, and the results drawn as a
contact sheet. Every text→image hit is found through the model's image tower."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from xmodal.collection import Collection
from xmodal.contact_sheet import queries_sheet
from xmodal.errors import EncoderMismatchError
from xmodal.ingest.pipeline import IndexOptions
from xmodal.progress import progress_bar
from xmodal.records import IndexReport, SearchHit

_EXCLUDES = ("ATTRIBUTION.txt",)
#: pictures and queries meet in the space of the shipped model, nothing else
DEMO_MODELS = ("emoji-small",)
_IMAGE_QUERY_HEX = "1F431"  # cat face: a picture that should find other cats


def _find_image_query(pictures: Mapping[Path, tuple[str, str]]) -> Path | None:
    for path, (hexcode, _) in pictures.items():
        if hexcode == _IMAGE_QUERY_HEX:
            return path
    return next(iter(pictures), None)


def _unseen_hexcodes() -> set[str]:
    """Emojis whose concept emoji-small never trained on (the validation and test splits)."""
    from xmodal.datasets.openmoji import fetch, load_emojis
    from xmodal.eval.benchmarks.openmoji import concepts, split_concepts

    parts = split_concepts(concepts(load_emojis(fetch(), include_skin_tones=True)))
    return {h for split in ("val", "test") for c in parts[split] for h in c.hexcodes}


def _index(col: Collection, sample_dir: Path, progress: bool) -> IndexReport:
    return col.index(
        [sample_dir],
        models=list(DEMO_MODELS),
        progress=progress_bar("indexing") if progress else None,
        options=IndexOptions(excludes=_EXCLUDES),
    )


def _indexed(
    db_dir: Path, sample_dir: Path, progress: bool, own: bool
) -> tuple[Collection, IndexReport]:
    """The demo's collection with the pictures indexed. Its own collection (``own``), built
    by an earlier ``emoji-small``, is built afresh: its vectors can never meet the new model's
    queries. A collection the user named is never removed; its mismatch is their error."""
    col = Collection.open(db_dir)
    try:
        return col, _index(col, sample_dir, progress)
    except EncoderMismatchError:
        col.close()
        if not own:
            raise
        print(f"  {db_dir} was built by an earlier emoji-small: building it afresh")
        shutil.rmtree(db_dir)
    except BaseException:
        col.close()
        raise
    col = Collection.open(db_dir)
    try:
        return col, _index(col, sample_dir, progress)
    except BaseException:
        col.close()
        raise


def run_demo(
    db: str | None,
    sample: str | None,
    limit: int | None,
    queries: Sequence[str],
    k: int = 5,
    progress: bool = True,
) -> int:
    from xmodal.datasets.openmoji import build_pictures, cache_dir

    base = cache_dir()
    default_sample = base / "samples" / f"openmoji-pictures-{limit or 'all'}"
    sample_dir = Path(sample) if sample else default_sample
    db_dir = Path(db) if db else base / "demo-pictures-db"
    print(f"pictures: OpenMoji drawings (CC BY-SA 4.0, openmoji.org) in {sample_dir}")
    print("  numbered files, no captions, tags or sidecars: text can only find them by pixels")
    drawings = build_pictures(
        sample_dir,
        limit=limit,
        progress=progress_bar("OpenMoji", unit="emoji") if progress else None,
    )
    # what each picture is, kept outside the collection, only to print beside the results
    known = {d.path.resolve(): (d.emoji.hexcode, d.emoji.annotation) for d in drawings}
    unseen = _unseen_hexcodes()

    col, report = _indexed(db_dir, sample_dir, progress, own=db is None)
    with col:
        print(f"collection {db_dir} (model {', '.join(DEMO_MODELS)}): {report.summary()}")
        rows: list[tuple[str, list[SearchHit]]] = [(q, col.search(q, k=k)) for q in queries]
        img = _find_image_query(known)
        if img is not None:
            rows.append((f"image: {img.name}", col.search(image=str(img), k=k)))
        for label, hits in rows:
            print(f"\n> {label}")
            for rank, h in enumerate(hits, start=1):
                hexcode, caption = known.get(Path(h.path).resolve(), ("", ""))
                mark = "  (concept never trained on)" if hexcode in unseen else ""
                name = os.path.basename(h.path)
                print(f"  {rank}. {h.score:.4f}  {name}  is: {caption}{mark}")
        sheet = queries_sheet(rows, db_dir / "demo-results.png")
    print(f"\ncontact sheet of these results: {sheet}")
    return 0
