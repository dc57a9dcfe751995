"""The collection's SQLite schema, its version, and the migrations between versions."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from xmodal.errors import SchemaError

SCHEMA_VERSION = 4

_V1 = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    modality TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    signature TEXT NOT NULL,
    encoded TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    text TEXT NOT NULL DEFAULT '',
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS items_hash ON items(content_hash);
CREATE INDEX IF NOT EXISTS items_modality ON items(modality);
CREATE INDEX IF NOT EXISTS items_mtime ON items(mtime);
CREATE TABLE IF NOT EXISTS segments (
    id INTEGER PRIMARY KEY,
    item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start REAL,
    end REAL,
    text TEXT NOT NULL DEFAULT '',
    UNIQUE (item_id, ordinal)
);
CREATE TABLE IF NOT EXISTS spaces (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    dim INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS vectors (
    segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    space TEXT NOT NULL REFERENCES spaces(name),
    vector BLOB NOT NULL,
    PRIMARY KEY (segment_id, space)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS vectors_space ON vectors(space, segment_id);
"""


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """Version 2 adds the keyword index: one FTS5 row per segment (rowid = segment id) holding
    the segment's analysed terms, deleted with its segment."""
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS lexical USING fts5("
        "terms, tokenize = 'unicode61 remove_diacritics 2')"
    )
    conn.execute(
        "CREATE TRIGGER IF NOT EXISTS segments_lexical_delete AFTER DELETE ON segments "
        "BEGIN DELETE FROM lexical WHERE rowid = old.id; END"
    )


def _v2_to_v3(conn: sqlite3.Connection) -> None:
    """Version 3 keeps what each text extractor (OCR) read from each content hash, so the
    same bytes are not read again when a collection gains a model or a file comes back;
    ``fingerprint`` is the extractor's spec, so a changed extractor reads again."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS extracted_text ("
        "content_hash TEXT NOT NULL, extractor TEXT NOT NULL, fingerprint TEXT NOT NULL, "
        "boxes TEXT NOT NULL, PRIMARY KEY (content_hash, extractor)) WITHOUT ROWID"
    )


def _v3_to_v4(conn: sqlite3.Connection) -> None:
    """Version 4 keeps the words heard in a span of audio with their times (JSON
    ``[[start, end, word], ...]``), so a hit can name the moment the matching words were
    said inside its segment."""
    conn.execute("ALTER TABLE segments ADD COLUMN words TEXT NOT NULL DEFAULT '[]'")


# Each entry upgrades from version N to N+1; kept as data so that a newer schema adds one
# function here and nothing else changes.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
}


def current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'"
    ).fetchone()
    if row is None:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else 0


def _refuse_newer(version: int, path: str) -> None:
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"collection {path} has schema version {version}, newer than this xmodal supports "
            f"({SCHEMA_VERSION}); upgrade xmodal to open it"
        )


def check_schema(conn: sqlite3.Connection, path: str) -> None:
    """Refuse a schema that a read-only collection cannot be searched with (it cannot be
    migrated in place)."""
    version = current_version(conn)
    _refuse_newer(version, path)
    if version < SCHEMA_VERSION:
        raise SchemaError(
            f"collection {path} has schema version {version} and is read-only; make it "
            f"writable once so that xmodal can upgrade it to version {SCHEMA_VERSION}"
        )


def ensure_schema(conn: sqlite3.Connection, path: str) -> None:
    """Create the schema in an empty database, migrate an older one, refuse a newer one."""
    version = current_version(conn)
    _refuse_newer(version, path)
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # another process may have created or migrated it while we waited for the lock
        version = current_version(conn)
        if version == 0:
            for statement in _V1.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '1')")
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0')")
            version = 1
        for v in range(version, SCHEMA_VERSION):
            MIGRATIONS[v](conn)
        conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
