"""The durable collection store: items, segments, vectors and spaces in one SQLite database.

Every change runs in one ``BEGIN IMMEDIATE`` transaction, so a crash at any moment leaves
either all of a batch or none of it; WAL mode lets searches read the last committed state
while an index run writes.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.errors import EncoderMismatchError, UsageError
from xmodal.records import EncoderSpec, Item, Modality, Segment, Word
from xmodal.store.filters import Filters
from xmodal.store.schema import check_schema, ensure_schema

DB_NAME = "xmodal.db"


@dataclass(frozen=True, slots=True)
class SpaceRecord:
    name: str
    spec: EncoderSpec
    fingerprint: str
    dim: int


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An item as the store holds it, with what incremental indexing compares."""

    item: Item
    signature: str
    encoded: frozenset[str]


@dataclass(frozen=True, slots=True)
class SegmentRef:
    item: Item
    segment: Segment


@dataclass(slots=True)
class NewItem:
    """Everything one item needs to be written: its record, segments and their vectors."""

    path: str
    modality: Modality
    content_hash: str
    size: int
    mtime: float
    signature: str
    metadata: dict[str, Any]
    text: str
    segments: list[Segment]
    #: space name -> (segment ordinals, vectors row-aligned with them)
    vectors: dict[str, tuple[list[int], np.ndarray]]
    encoded: frozenset[str]
    #: analysed keyword terms per segment ordinal, for the lexical (BM25) index
    terms: dict[int, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExtractedText:
    """The text boxes one extractor read from one content, as items keep them in metadata."""

    content_hash: str
    extractor: str
    fingerprint: str
    boxes: list[dict[str, Any]]


def is_writable(*paths: Path) -> bool:
    """Whether every one of ``paths`` may be written, by its permission bits as well as by
    ``access``: the superuser may write anything, but a collection marked read-only stays so."""
    return all(os.access(p, os.W_OK) and p.stat().st_mode & 0o222 for p in paths)


def _connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, timeout=60.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _connect_readonly(db: Path) -> sqlite3.Connection:
    """A connection that never writes. Without a write-ahead log beside the database no writer
    can be at work, so the file is opened as immutable (SQLite then needs no shared-memory
    file, which a read-only folder could not hold); with one, its committed pages are read."""
    uri = "file:" + urllib.parse.quote(os.fspath(db.absolute())) + "?mode=ro"
    wal = db.with_name(db.name + "-wal")
    if wal.exists():
        try:
            conn = sqlite3.connect(
                uri, uri=True, timeout=60.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            pass  # the shared-memory file cannot be made here: read the database alone
    return sqlite3.connect(
        uri + "&immutable=1", uri=True, isolation_level=None, check_same_thread=False
    )


def _item_from_row(row: sqlite3.Row) -> Item:
    return Item(
        id=row["id"],
        path=row["path"],
        modality=Modality(row["modality"]),
        content_hash=row["content_hash"],
        size=row["size"],
        mtime=row["mtime"],
        metadata=json.loads(row["metadata"]),
        text=row["text"],
    )


def _words(raw: str) -> tuple[Word, ...]:
    return tuple(Word(float(a), float(b), str(t)) for a, b, t in json.loads(raw or "[]"))


def _words_json(words: Sequence[Word]) -> str:
    return json.dumps([[round(w.start, 3), round(w.end, 3), w.text] for w in words])


class Store:
    def __init__(self, root: str | os.PathLike[str], create: bool = True) -> None:
        self.root = Path(root)
        db = self.root / DB_NAME
        if not db.exists():
            if not create:
                raise UsageError(f"no collection at {self.root}; create one with `xmodal index`")
            if self.root.exists() and not self.root.is_dir():
                raise UsageError(f"{self.root} exists and is not a folder")
            self.root.mkdir(parents=True, exist_ok=True)
        #: a collection whose folder or database is marked read-only is opened without
        #: writing anything (no journal files, no migration)
        self.readonly = db.exists() and not is_writable(self.root, db)
        try:
            self.conn = _connect_readonly(db) if self.readonly else _connect(db)
            self.conn.row_factory = sqlite3.Row
            if self.readonly:
                check_schema(self.conn, str(self.root))
            else:
                ensure_schema(self.conn, str(self.root))
        except sqlite3.DatabaseError as e:
            raise UsageError(f"cannot open collection {self.root}: {e}") from None

    def close(self) -> None:
        self.conn.close()

    # -- transactions -------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One atomic write; bumps the generation that derived caches are keyed on."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'"
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several reads."""
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        finally:
            self.conn.execute("COMMIT")

    def generation(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0])

    # -- meta and spaces ----------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as c:
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def spaces(self) -> dict[str, SpaceRecord]:
        rows = self.conn.execute("SELECT name, spec, fingerprint, dim FROM spaces ORDER BY name")
        return {
            r["name"]: SpaceRecord(
                r["name"], EncoderSpec.from_json(json.loads(r["spec"])), r["fingerprint"], r["dim"]
            )
            for r in rows
        }

    def space_created_at(self, name: str) -> float | None:
        row = self.conn.execute("SELECT created_at FROM spaces WHERE name=?", (name,)).fetchone()
        return None if row is None else float(row[0])

    def modalities(self) -> frozenset[Modality]:
        """The modalities of the items the collection holds."""
        rows = self.conn.execute("SELECT DISTINCT modality FROM items")
        return frozenset(Modality(r[0]) for r in rows)

    def ensure_space(self, spec: EncoderSpec) -> None:
        """Register the space ``spec.name`` or check that it was built by the same encoder."""
        existing = self.spaces().get(spec.name)
        fp = spec.fingerprint()
        if existing is not None:
            if existing.fingerprint != fp:
                raise EncoderMismatchError(
                    f"space {spec.name!r} in {self.root} was built with "
                    f"{existing.spec.weights} (dim {existing.dim}); the encoder now installed is "
                    f"{spec.weights} (dim {spec.dim}); vectors of different encoders never mix: "
                    "index into a new collection"
                )
            return
        with self.write() as c:
            c.execute(
                "INSERT INTO spaces(name, spec, fingerprint, dim, created_at) VALUES (?,?,?,?,?)",
                (spec.name, json.dumps(spec.to_json()), fp, spec.dim, time.time()),
            )

    # -- items ----------------------------------------------------------------------------

    def _stored(self, row: sqlite3.Row) -> StoredItem:
        encoded = frozenset(json.loads(row["encoded"]))
        return StoredItem(_item_from_row(row), row["signature"], encoded)

    def item_by_path(self, path: str) -> StoredItem | None:
        row = self.conn.execute("SELECT * FROM items WHERE path=?", (path,)).fetchone()
        return None if row is None else self._stored(row)

    def item(self, item_id: str) -> Item | None:
        row = self.conn.execute("SELECT * FROM items WHERE id=?", (item_id,)).fetchone()
        return None if row is None else _item_from_row(row)

    def items_by_path(self) -> dict[str, StoredItem]:
        return {r["path"]: self._stored(r) for r in self.conn.execute("SELECT * FROM items")}

    def iter_items(self) -> Iterator[Item]:
        for row in self.conn.execute("SELECT * FROM items ORDER BY path").fetchall():
            yield _item_from_row(row)

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def ids(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT path, id FROM items ORDER BY path")}

    def segments(self, item_id: str) -> list[Segment]:
        rows = self.conn.execute(
            "SELECT ordinal, text, start, end, words FROM segments WHERE item_id=?"
            " ORDER BY ordinal",
            (item_id,),
        )
        return [Segment(r[0], r[1], r[2], r[3], _words(r[4])) for r in rows]

    def put_items(self, items: Sequence[NewItem]) -> list[str]:
        """Insert or replace ``items`` (matched by path) in one transaction; returns ids."""
        return self.write_batch(items)

    def write_batch(
        self,
        items: Sequence[NewItem],
        touches: Iterable[tuple[str, float, str]] = (),
        extracted: Iterable[ExtractedText] = (),
    ) -> list[str]:
        """One index commit in one transaction: ``items`` inserted or replaced (matched by
        path), new ``(mtime, signature)`` for the items in ``touches`` (``(id, mtime,
        signature)``: content unchanged), text read from pixels; returns the items' ids."""
        now = time.time()
        with self.write() as c:
            ids = [self._put(c, it, now) for it in items]
            c.executemany(
                "UPDATE items SET mtime=?, signature=? WHERE id=?",
                ((m, s, i) for i, m, s in touches),
            )
            c.executemany(
                "INSERT OR REPLACE INTO extracted_text(content_hash, extractor, fingerprint,"
                " boxes) VALUES (?,?,?,?)",
                (
                    (e.content_hash, e.extractor, e.fingerprint, json.dumps(e.boxes))
                    for e in extracted
                ),
            )
        return ids

    def _put(self, c: sqlite3.Connection, it: NewItem, now: float) -> str:
        row = c.execute("SELECT id FROM items WHERE path=?", (it.path,)).fetchone()
        item_id: str = row[0] if row else secrets.token_hex(8)
        if row:
            c.execute("DELETE FROM segments WHERE item_id=?", (item_id,))
        c.execute(
            "INSERT OR REPLACE INTO items(id, path, modality, content_hash, size, mtime,"
            " signature, encoded, metadata, text, indexed_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                item_id,
                it.path,
                str(it.modality),
                it.content_hash,
                it.size,
                it.mtime,
                it.signature,
                json.dumps(sorted(it.encoded)),
                json.dumps(it.metadata, ensure_ascii=False),
                it.text,
                now,
            ),
        )
        seg_ids: dict[int, int] = {}
        for seg in it.segments:
            cur = c.execute(
                "INSERT INTO segments(item_id, ordinal, start, end, text, words)"
                " VALUES (?,?,?,?,?,?)",
                (item_id, seg.ordinal, seg.start, seg.end, seg.text, _words_json(seg.words)),
            )
            assert cur.lastrowid is not None
            seg_ids[seg.ordinal] = cur.lastrowid
        c.executemany(
            "INSERT INTO lexical(rowid, terms) VALUES (?, ?)",
            ((seg_ids[o], " ".join(t)) for o, t in it.terms.items() if t),
        )
        for space, (ordinals, vecs) in it.vectors.items():
            c.executemany(
                "INSERT INTO vectors(segment_id, space, vector) VALUES (?,?,?)",
                (
                    (seg_ids[o], space, np.ascontiguousarray(v, dtype=np.float32).tobytes())
                    for o, v in zip(ordinals, vecs, strict=True)
                ),
            )
        return item_id

    def extracted_text(
        self, extractor: str, fingerprint: str, hashes: Sequence[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """``{content hash: boxes}`` that ``extractor`` (with this spec ``fingerprint``) has
        already read from the given contents."""
        out: dict[str, list[dict[str, Any]]] = {}
        for i in range(0, len(hashes), 500):
            chunk = list(hashes[i : i + 500])
            rows = self.conn.execute(
                "SELECT content_hash, boxes FROM extracted_text WHERE extractor=? AND"
                f" fingerprint=? AND content_hash IN ({','.join('?' * len(chunk))})",
                [extractor, fingerprint, *chunk],
            )
            out.update((r[0], json.loads(r[1])) for r in rows)
        return out

    def prune_extracted_text(self) -> int:
        """Forget text read from contents that no item holds any more."""
        with self.write() as c:
            cur = c.execute(
                "DELETE FROM extracted_text WHERE content_hash NOT IN"
                " (SELECT content_hash FROM items)"
            )
            return cur.rowcount

    def move_item(self, item_id: str, path: str, mtime: float, signature: str) -> None:
        with self.write() as c:
            c.execute(
                "UPDATE items SET path=?, mtime=?, signature=? WHERE id=?",
                (path, mtime, signature, item_id),
            )

    def touch_items(self, updates: Iterable[tuple[str, float, str]]) -> None:
        """Record new (mtime, signature) for items whose content did not change."""
        with self.write() as c:
            c.executemany(
                "UPDATE items SET mtime=?, signature=? WHERE id=?",
                ((m, s, i) for i, m, s in updates),
            )

    def delete_items(self, item_ids: Sequence[str]) -> int:
        if not item_ids:
            return 0
        with self.write() as c:
            n = 0
            for i in range(0, len(item_ids), 500):
                chunk = item_ids[i : i + 500]
                cur = c.execute(
                    f"DELETE FROM items WHERE id IN ({','.join('?' * len(chunk))})", chunk
                )
                n += cur.rowcount
        return n

    # -- vectors --------------------------------------------------------------------------

    def load_vectors(self, space: str, dim: int) -> tuple[int, np.ndarray, np.ndarray]:
        """(generation, segment ids, matrix) of one space, read from one snapshot."""
        with self.read() as c:
            gen = self.generation()
            count = c.execute("SELECT COUNT(*) FROM vectors WHERE space=?", (space,)).fetchone()[0]
            ids = np.empty(count, dtype=np.int64)
            mat = np.empty((count, dim), dtype=np.float32)
            rows = c.execute(
                "SELECT segment_id, vector FROM vectors WHERE space=? ORDER BY segment_id",
                (space,),
            )
            for n, (sid, blob) in enumerate(rows):
                ids[n] = sid
                mat[n] = np.frombuffer(blob, dtype=np.float32)
        return gen, ids, mat

    def lexical_search(
        self, match: str, limit: int, filters: Filters | None = None
    ) -> list[tuple[int, float]]:
        """(segment id, BM25 score, higher is better) for an FTS5 ``match`` expression."""
        sql = "SELECT lexical.rowid, -bm25(lexical) FROM lexical"
        params: list[object] = [match]
        if filters is not None and not filters.is_empty():
            where, fparams = filters.where()
            sql += (
                " JOIN segments s ON s.id = lexical.rowid JOIN items i ON i.id = s.item_id"
                f" WHERE lexical MATCH ? AND {where}"
            )
            params.extend(fparams)
        else:
            sql += " WHERE lexical MATCH ?"
        sql += " ORDER BY bm25(lexical) LIMIT ?"
        params.append(limit)
        return [(int(r[0]), float(r[1])) for r in self.conn.execute(sql, params)]

    def allowed_segments(self, filters: Filters) -> np.ndarray:
        where, params = filters.where()
        rows = self.conn.execute(
            f"SELECT s.id FROM segments s JOIN items i ON i.id = s.item_id WHERE {where}", params
        ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def resolve_segments(self, segment_ids: Iterable[int]) -> dict[int, SegmentRef]:
        ids = list({int(s) for s in segment_ids})
        out: dict[int, SegmentRef] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows = self.conn.execute(
                "SELECT s.id AS sid, s.ordinal, s.start, s.end, s.text AS stext,"
                " s.words AS swords, i.*"
                " FROM segments s JOIN items i ON i.id = s.item_id"
                f" WHERE s.id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for r in rows:
                out[r["sid"]] = SegmentRef(
                    _item_from_row(r),
                    Segment(
                        r["ordinal"], r["stext"], r["start"], r["end"], _words(r["swords"])
                    ),
                )
        return out

    def check_consistency(self) -> list[str]:
        """Problems a crash could have left behind; an empty list means consistent."""
        problems = []
        q = {
            "vectors without a segment": "SELECT COUNT(*) FROM vectors v"
            " LEFT JOIN segments s ON s.id = v.segment_id WHERE s.id IS NULL",
            "segments without an item": "SELECT COUNT(*) FROM segments s"
            " LEFT JOIN items i ON i.id = s.item_id WHERE i.id IS NULL",
            "items without a segment": "SELECT COUNT(*) FROM items i"
            " LEFT JOIN segments s ON s.item_id = i.id WHERE s.id IS NULL",
            "vectors of an unknown space": "SELECT COUNT(*) FROM vectors v"
            " LEFT JOIN spaces p ON p.name = v.space WHERE p.name IS NULL",
            "keyword rows without a segment": "SELECT COUNT(*) FROM lexical l"
            " LEFT JOIN segments s ON s.id = l.rowid WHERE s.id IS NULL",
        }
        for what, sql in q.items():
            n = self.conn.execute(sql).fetchone()[0]
            if n:
                problems.append(f"{n} {what}")
        ok = self.conn.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            problems.append(f"integrity check: {ok}")
        return problems
