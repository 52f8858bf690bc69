"""SQLite storage of raters and answers.

WAL mode with synchronous=FULL: an answer is acknowledged only after its transaction is on disk,
so killing the server at any moment loses nothing that a rater saw accepted. One transaction per
answer; UNIQUE(rater, trial) makes a repeated submit a no-op. The database remembers the trial
set it belongs to (its sha256), so a changed trials file is refused instead of mixing sets.
"""
from __future__ import annotations

import os
import secrets
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from sdbrain.errors import InputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS raters (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, token TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL DEFAULT 'human', created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assignments (
    rater_id INTEGER NOT NULL REFERENCES raters(id), trial INTEGER NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (rater_id, trial));
CREATE TABLE IF NOT EXISTS answers (
    rater_id INTEGER NOT NULL, trial INTEGER NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('left', 'right')), rt_ms INTEGER, answered_at TEXT NOT NULL,
    UNIQUE (rater_id, trial), FOREIGN KEY (rater_id, trial) REFERENCES assignments(rater_id, trial));
"""


def now() -> str:
    """Return the current UTC time in ISO 8601, to the millisecond (the time stamps of raters and answers)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def connect(path: str | Path, trials_sha256: str, per_rater: int, create: bool = False,
            session_file: str | Path = "session.json") -> sqlite3.Connection:
    """Open (or with ``create``, make) the database of a trial set, for reading and writing.

    A new file is made readable by its owner only (it holds every rater's token). A file that is not SQLite,
    belongs to another trial set, or whose raters were given another number of trials than ``per_rater``
    (``session_file``'s ``trials_per_rater``) is an InputError and is left untouched.
    """
    path = Path(path)
    _check_file(path, create)
    made = not path.exists()
    if made:
        # made here, not by SQLite, so that it is never readable by others (its WAL files take its mode)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        con = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA foreign_keys=ON")
        with transaction(con):
            for statement in filter(str.strip, SCHEMA.split(";")):
                con.execute(statement)
            con.execute("INSERT OR IGNORE INTO meta VALUES ('trials_sha256', ?)", (trials_sha256,))
            con.execute("INSERT OR IGNORE INTO meta VALUES ('trials_per_rater', ?)", (str(per_rater),))
    except sqlite3.Error as err:
        if made:
            path.unlink()
        raise InputError(f"{path}: cannot open the ratings database for writing ({err})") from None
    _check_session(con, path, trials_sha256, per_rater, session_file)
    return con


def open_read_only(path: str | Path, trials_sha256: str, per_rater: int,
                   session_file: str | Path = "session.json") -> sqlite3.Connection:
    """Open the database of a trial set for reading only: nothing is written, not even its WAL index.

    An archived session (a read-only file, folder or mount) can be listed and exported. Where SQLite
    cannot make the WAL index beside a read-only file, the file is opened as immutable (nothing can
    write it then either).
    """
    path = Path(path)
    _check_file(path, create=False)
    uri = f"file:{quote(str(path.resolve()))}"
    try:
        try:
            con = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False, timeout=30)
            con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            con = sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=False)
        if not con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
            raise InputError(f"{path}: not a ratings database (no raters or answers in it)")
    except sqlite3.Error as err:
        raise InputError(f"{path}: cannot read the ratings database ({err})") from None
    _check_session(con, path, trials_sha256, per_rater, session_file)
    return con


def _check_file(path: Path, create: bool) -> None:
    if not path.parent.is_dir():
        raise InputError(f"{path}: its folder {path.parent} does not exist")
    if not path.exists() and not create:
        raise InputError(f"{path}: database not found (add a rater first: sdbrain-rate add-rater NAME)")
    if path.exists() and path.stat().st_size and path.read_bytes()[:16] != b"SQLite format 3\x00":
        raise InputError(f"{path}: not an SQLite database")


def _check_session(con: sqlite3.Connection, path: Path, trials_sha256: str, per_rater: int,
                   session_file: str | Path) -> None:
    """Refuse a database of another trial set, or of the same set with another number of trials per rater."""
    meta = dict(con.execute("SELECT key, value FROM meta"))
    stored = meta.get("trials_sha256", "")
    if stored != trials_sha256:
        con.close()
        raise InputError(f"{path}: this database belongs to another trials file (sha256 {stored[:12]}...); "
                         "use a new database for a new trial set")
    if meta.get("trials_per_rater", str(per_rater)) != str(per_rater):
        con.close()
        raise InputError(f"{session_file}: trials_per_rater is {per_rater}, but the raters of {path} were given "
                         f"{meta['trials_per_rater']} trials each; use a new database for a new session")


class transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (one writer at a time, no lost updates)."""

    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def __enter__(self):
        """Begin an immediate (write-locking) transaction; return the connection."""
        self.con.execute("BEGIN IMMEDIATE")
        return self.con

    def __exit__(self, kind, value, tb):
        """Commit, or roll back where the block raised (the exception propagates)."""
        self.con.execute("COMMIT" if kind is None else "ROLLBACK")


def add_rater(con: sqlite3.Connection, name: str, assign, source: str = "human") -> str:
    """Add a rater and their trials; return the rater's new random token.

    ``assign(k)`` gives the trial ids of the k-th rater. ``source`` is 'human' or the rule that simulates
    the rater.
    """
    if not name or not name.strip():
        raise InputError("rater name: expected a non-empty name")
    if not name.isprintable():  # tabs and newlines would break the tab-separated listings and exports
        raise InputError(f"rater name {name!r}: control characters (tabs, newlines) are not allowed")
    token = secrets.token_urlsafe(16)
    with transaction(con):
        if con.execute("SELECT 1 FROM raters WHERE name = ?", (name,)).fetchone():
            raise InputError(f"rater name {name!r}: a rater of that name exists already")
        index = con.execute("SELECT COUNT(*) FROM raters").fetchone()[0]
        rater = con.execute("INSERT INTO raters (name, token, source, created_at) VALUES (?, ?, ?, ?)",
                            (name, token, source, now())).lastrowid
        con.executemany("INSERT INTO assignments VALUES (?, ?, ?)",
                        [(rater, trial, k) for k, trial in enumerate(assign(index))])
    return token


def rater_by_token(con: sqlite3.Connection, token: str):
    """(id, name) of the rater with this token, or None."""
    return con.execute("SELECT id, name FROM raters WHERE token = ?", (token,)).fetchone()


def raters(con: sqlite3.Connection) -> list[tuple]:
    """Return (id, name, token, source) of every rater, in the order they were added."""
    return con.execute("SELECT id, name, token, source FROM raters ORDER BY id").fetchall()


def assigned(con: sqlite3.Connection, rater_id: int) -> list[int]:
    """Return the trial ids assigned to a rater, in the order they are shown."""
    return [t for (t,) in con.execute("SELECT trial FROM assignments WHERE rater_id = ? ORDER BY position", (rater_id,))]


def answered(con: sqlite3.Connection, rater_id: int) -> dict[int, str]:
    """Return a rater's answers so far: {trial id: choice ('left' or 'right')}."""
    return dict(con.execute("SELECT trial, choice FROM answers WHERE rater_id = ?", (rater_id,)))


def record(con: sqlite3.Connection, rater_id: int, trial: int, choice: str, rt_ms: int | None) -> str:
    """Store one answer in its own transaction; return what became of it.

    'stored', 'duplicate' (the same answer again, a no-op), 'conflict' (a different answer to an answered
    trial: the first stands) or 'unassigned' (not this rater's trial).
    """
    with transaction(con):
        if not con.execute("SELECT 1 FROM assignments WHERE rater_id = ? AND trial = ?", (rater_id, trial)).fetchone():
            return "unassigned"
        done = con.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?) ON CONFLICT (rater_id, trial) DO NOTHING",
                           (rater_id, trial, choice, rt_ms, now())).rowcount
        if done:
            return "stored"
        previous = con.execute("SELECT choice FROM answers WHERE rater_id = ? AND trial = ?",
                               (rater_id, trial)).fetchone()[0]
    return "duplicate" if previous == choice else "conflict"


def all_answers(con: sqlite3.Connection) -> list[tuple]:
    """(rater name, source, trial, choice, rt_ms, answered_at) of every answer, in a stable order."""
    return con.execute("SELECT r.name, r.source, a.trial, a.choice, a.rt_ms, a.answered_at FROM answers a "
                       "JOIN raters r ON r.id = a.rater_id ORDER BY r.id, a.trial").fetchall()
