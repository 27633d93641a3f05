"""A local SQLite cache of completed model calls, so that re-runs and resumed runs are free.

Every completed call is stored under a key made of everything that decides the answer: the
backend's identity (base URL and model for an OpenAI-compatible backend, its name otherwise),
the messages, the output cap and the completion options (temperature, extra body). Headers and
the API key are never part of an entry. One file (stdlib ``sqlite3`` in WAL mode) is shared by
concurrent calls and by several processes: each get or put is one short transaction and waits
up to :data:`BUSY_TIMEOUT_MS` for a lock. A file that is not a readable database (a crash mid
write on a filesystem without locking, a stray file) is reported with a warning, moved aside
and replaced by a fresh one: a cache problem never fails a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._backend import Completion, Message

__all__ = ["BUSY_TIMEOUT_MS", "CacheInfo", "ResponseCache", "cache_key", "default_cache_path"]

#: How long one get or put waits for another process's lock, in milliseconds.
BUSY_TIMEOUT_MS = 10_000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS responses ("
    "key TEXT PRIMARY KEY, text TEXT NOT NULL, prompt_tokens INTEGER, "
    "completion_tokens INTEGER, finish_reason TEXT, model TEXT, created REAL NOT NULL)"
)


def default_cache_path() -> Path:
    """``$XDG_CACHE_HOME/llm-digest/responses.sqlite3``, else under ``~/.cache``."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "llm-digest" / "responses.sqlite3"


def backend_identity(backend: Any) -> dict[str, Any]:
    """What of a backend decides its answers: never its headers or API key."""
    base_url = getattr(backend, "base_url", None)
    model = getattr(backend, "model", None)
    if isinstance(base_url, str) and isinstance(model, str):
        identity: dict[str, Any] = {"base_url": base_url, "model": model}
    else:
        identity = {"backend": str(getattr(backend, "name", type(backend).__name__))}
    temperature = getattr(backend, "temperature", None)
    if temperature is not None:
        identity["temperature"] = temperature
    extra = getattr(backend, "extra_body", None)
    if extra:
        identity["extra_body"] = dict(extra)
    return identity


def cache_key(backend: Any, messages: list[Message], max_tokens: int) -> str:
    """The SHA-256 key of one request of ``backend``."""
    payload = {
        "backend": backend_identity(backend),
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
        "max_tokens": max_tokens,
    }
    data = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True)
class CacheInfo:
    """What :meth:`ResponseCache.info` reports."""

    path: str
    entries: int
    size_bytes: int

    def __str__(self) -> str:
        return f"cache: {self.path}\nentries: {self.entries}\nsize: {self.size_bytes} bytes"


class ResponseCache:
    """Completed model calls, keyed by :func:`cache_key`, in one SQLite file.

    Args:
        path: the database file; default :func:`default_cache_path`. Its folder is created
            on first use.

    Thread-safe (one connection per thread) and safe across processes (WAL, short
    transactions, a busy timeout).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is not None and not isinstance(path, str | os.PathLike):
            raise TypeError(
                f"cache path must be a str or os.PathLike, got {type(path).__name__}; pass "
                "a file path, a ResponseCache, True for the default file, or False"
            )
        self.path = Path(path) if path is not None else default_cache_path()
        if self.path.is_dir():
            raise ValueError(
                f"cache path {str(self.path)!r} is a directory; pass a file path such as "
                f"{str(self.path / 'responses.sqlite3')!r}"
            )
        self._local = threading.local()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r})"

    # -- connection -----------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            conn.execute("SELECT count(*) FROM responses").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._open()
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                    raise
                self._set_aside(exc)
                conn = self._open()
            self._local.conn = conn
        return conn

    def _set_aside(self, exc: BaseException) -> None:
        with self._lock:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time() * 1000)}")
            moved = False
            for suffix in ("", "-wal", "-shm"):
                source = Path(f"{self.path}{suffix}")
                if source.exists():
                    source.replace(Path(f"{aside}{suffix}"))
                    moved = moved or suffix == ""
            warnings.warn(
                f"the response cache {str(self.path)!r} is not a readable database ({exc}); "
                f"it was moved to {str(aside)!r} and a fresh cache was started",
                RuntimeWarning,
                stacklevel=4,
            )

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):
                raise
            self.close()
            self._set_aside(exc)
            return self._conn().execute(sql, params).fetchall()

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            conn.close()

    # -- public API -----------------------------------------------------------------------

    def get(self, key: str) -> Completion | None:
        """The stored completion for ``key``, or ``None`` (also when the file stays locked
        or unreadable: that is warned about, and the call is then simply made)."""
        try:
            rows = self._run(
                "SELECT text, prompt_tokens, completion_tokens, finish_reason, model "
                "FROM responses WHERE key = ?",
                (key,),
            )
        except (sqlite3.Error, OSError) as exc:
            self._unusable(exc)
            return None
        if not rows:
            return None
        text, prompt, completion, finish, model = rows[0]
        return Completion(
            text=text,
            prompt_tokens=prompt,
            completion_tokens=completion,
            finish_reason=finish,
            model=model,
        )

    def put(self, key: str, completion: Completion) -> None:
        """Store ``completion`` under ``key`` (replacing any older entry)."""
        if not isinstance(completion.text, str):
            raise TypeError(f"only a Completion with a str text is cached, got {completion!r}")
        try:
            self._run(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    completion.text,
                    completion.prompt_tokens,
                    completion.completion_tokens,
                    completion.finish_reason,
                    completion.model,
                    time.time(),
                ),
            )
        except (sqlite3.Error, OSError) as exc:
            self._unusable(exc)

    def _unusable(self, exc: BaseException) -> None:
        warnings.warn(
            f"the response cache {str(self.path)!r} cannot be used ({type(exc).__name__}: "
            f"{exc}); this call is not cached. Check the file's permissions and free space, "
            "or pass --no-cache / cache=False",
            RuntimeWarning,
            stacklevel=3,
        )

    def info(self) -> CacheInfo:
        """The file's path, number of entries and size on disk."""
        if not self.path.exists():
            return CacheInfo(path=str(self.path), entries=0, size_bytes=0)
        (count,) = self._run("SELECT count(*) FROM responses")[0]
        size = sum(
            Path(f"{self.path}{s}").stat().st_size
            for s in ("", "-wal")
            if Path(f"{self.path}{s}").exists()
        )
        return CacheInfo(path=str(self.path), entries=int(count), size_bytes=size)

    def clear(self) -> int:
        """Delete every entry; return how many there were."""
        if not self.path.exists():
            return 0
        (count,) = self._run("SELECT count(*) FROM responses")[0]
        self._run("DELETE FROM responses")
        return int(count)


def resolve_cache(cache: object, backend: Any) -> ResponseCache | None:
    """The cache a :class:`~summarizer.Summarizer` uses, from its ``cache`` option.

    ``False`` disables it; ``None``/``True`` use the default file for backends that declare
    ``cacheable = True`` (paid model calls; not the offline ``extractive`` and ``fake``); a
    path or a :class:`ResponseCache` caches any backend.
    """
    if cache is False:
        return None
    if cache is None or cache is True:
        if getattr(backend, "cacheable", False) is not True:
            return None
        return ResponseCache()
    if isinstance(cache, ResponseCache):
        return cache
    if isinstance(cache, str | os.PathLike):
        return ResponseCache(cache)
    raise TypeError(
        f"cache must be a path, a ResponseCache, True/None (default file) or False, got "
        f"{type(cache).__name__}"
    )
