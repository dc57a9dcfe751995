from __future__ import annotations

import sqlite3
from pathlib import Path

from xmodal import Collection, Filters, Modality
from xmodal.encoders.bm25 import analyze
from xmodal.store.schema import _V1, SCHEMA_VERSION
from xmodal.store.sqlite import DB_NAME, Store


def test_analyze() -> None:
    assert analyze("Red BICYCLE, red!") == ["red", "bicycle", "red"]
    assert analyze("红色自行车") == ["红色", "色自", "自行", "行车"]
    assert analyze("我 has 猫") == ["我", "has", "猫"]
    assert analyze("ｆｕｌｌwidth") == ["fullwidth"]
    assert analyze("") == []


def _docs(root: Path) -> Path:
    root.mkdir()
    (root / "zh.txt").write_text("我的红色自行车需要新轮胎。")
    (root / "bike.txt").write_text("My red bicycle needs new tyres.")
    (root / "car.txt").write_text("The red car is parked outside.")
    (root / "cafe.md").write_text("Un café crème, s'il vous plaît.")
    return root


def test_keyword_search(tmp_path: Path) -> None:
    root = _docs(tmp_path / "docs")
    col = Collection.open(tmp_path / "db")
    col.index([root], models=["bm25"])

    def names(q: str, **kw: object) -> list[str]:
        return [Path(h.path).name for h in col.search(q, **kw)]  # type: ignore[arg-type]

    assert names("自行车") == ["zh.txt"]
    assert set(names("red")) == {"bike.txt", "car.txt"}
    assert names('"red" - "car"') == ["bike.txt"]
    assert names("cafe") == ["cafe.md"]  # diacritics folded
    assert names("nothing-matches-this") == []
    text_only = names("red", filters=Filters(path_globs=(f"{root}/car*",)))
    assert text_only == ["car.txt"]
    (root / "car.txt").write_text("A blue boat.")
    (root / "bike.txt").unlink()
    col.index([root])
    assert names("red") == []  # "红色" is a CJK bigram, not the word red
    assert names("boat") == ["car.txt"]
    assert col.store.check_consistency() == []


def test_hybrid_with_images_words(tmp_path: Path, photo_folder: Path) -> None:
    col = Collection.open(tmp_path / "db")
    col.index([photo_folder], models=["classic", "bm25"])
    hits = col.search("pine", k=3)
    assert Path(hits[0].path).name == "forest.png" and "bm25" in hits[0].spaces
    assert {h.modality for h in col.search("bread")} == {Modality.TEXT}


def test_version_1_collection_is_migrated(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    conn = sqlite3.connect(tmp_path / "c" / DB_NAME)
    for statement in _V1.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('generation', '0')")
    conn.commit()
    conn.close()
    store = Store(tmp_path / "c")
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert store.conn.execute("SELECT COUNT(*) FROM lexical").fetchone()[0] == 0
