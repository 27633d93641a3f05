"""Turn a corpus input (folder, glob, URL list, JSON Lines, CSV, Parquet) into items."""

from __future__ import annotations

import csv
import glob
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CorpusInputError", "Item", "read_items"]

_GLOB_CHARS = frozenset("*?[")
_TABLE_SUFFIXES = frozenset({".jsonl", ".ndjson", ".csv", ".parquet"})
_TEXT_COLUMNS = ("text", "content", "body")
_URL_COLUMNS = ("url", "link")
_ID_COLUMNS = ("id",)


class CorpusInputError(ValueError):
    """The corpus input cannot be read: the message names the problem and the fix."""


@dataclass(frozen=True, kw_only=True)
class Item:
    """One input of a corpus: exactly one of ``text``, ``url`` or ``path`` is set."""

    id: str
    source: str
    text: str | None = None
    url: str | None = None
    path: str | None = None


def read_items(
    source: str | Path,
    *,
    text_column: str | None = None,
    url_column: str | None = None,
    id_column: str | None = None,
) -> list[Item]:
    """Every input of ``source``, in a stable order, with unique ids."""
    text = str(source)
    if any(c in text for c in _GLOB_CHARS) and not Path(text).exists():
        paths = sorted(p for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not paths:
            raise CorpusInputError(f"the glob {text!r} matches no file: check the pattern")
        return _unique([_file_item(Path(p), Path(p).as_posix()) for p in paths])
    path = Path(text)
    if not path.exists():
        raise CorpusInputError(
            f"corpus input {text!r} does not exist: pass a folder, a glob, a .txt file of "
            "URLs, or a .jsonl, .csv or .parquet file"
        )
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise CorpusInputError(f"the folder {text!r} holds no file to summarize")
        return _unique([_file_item(p, p.relative_to(path).as_posix()) for p in files])
    suffix = path.suffix.lower()
    if suffix in _TABLE_SUFFIXES:
        rows = _table_rows(path, suffix)
        return _unique(list(_row_items(rows, path, text_column, url_column, id_column)))
    if suffix == ".txt":
        urls = _url_list(path)
        if urls is not None:
            return _unique([Item(id=u, source=u, url=u) for u in urls])
    return [_file_item(path, path.name)]


def _file_item(path: Path, ident: str) -> Item:
    return Item(id=ident, source=str(path), path=str(path))


def _url_list(path: Path) -> list[str] | None:
    """The URLs of a .txt file whose every non-blank, non-# line is an http(s) URL."""
    lines = [
        line.strip()
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    if lines and all(line.startswith(("http://", "https://")) for line in lines):
        return lines
    return None


def _table_rows(path: Path, suffix: str) -> list[dict[str, Any]]:
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ImportError(
                "reading Parquet needs pyarrow: pip install pyarrow (or convert to .jsonl/.csv)"
            ) from None
        return list(pq.read_table(path).to_pylist())
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusInputError(
                    f"{path}:{number} is not valid JSON ({exc.msg}): one JSON object per line"
                ) from None
            if not isinstance(row, dict):
                raise CorpusInputError(
                    f"{path}:{number} is a JSON {type(row).__name__}, not an object with a "
                    "text or URL field"
                )
            rows.append(row)
    return rows


def _pick(columns: set[str], given: str | None, defaults: tuple[str, ...], flag: str) -> str | None:
    if given is not None:
        if given not in columns:
            raise CorpusInputError(
                f"{flag} {given!r} is not a column; the columns are: {', '.join(sorted(columns))}"
            )
        return given
    return next((name for name in defaults if name in columns), None)


def _row_items(
    rows: list[dict[str, Any]],
    path: Path,
    text_column: str | None,
    url_column: str | None,
    id_column: str | None,
) -> Iterator[Item]:
    if not rows:
        raise CorpusInputError(f"{path} holds no rows")
    columns = set().union(*(row.keys() for row in rows))
    text_col = _pick(columns, text_column, () if url_column else _TEXT_COLUMNS, "--text-column")
    url_col = _pick(columns, url_column, () if text_column else _URL_COLUMNS, "--url-column")
    id_col = _pick(columns, id_column, _ID_COLUMNS, "--id-column")
    if text_col is None and url_col is None:
        raise CorpusInputError(
            f"{path} has no text or URL column (columns: {', '.join(sorted(columns))}): "
            "name one with --text-column or --url-column"
        )
    for number, row in enumerate(rows, 1):
        ident = str(row.get(id_col)) if id_col and row.get(id_col) is not None else f"row {number}"
        where = f"{path.name}:{number}"
        text = row.get(text_col) if text_col else None
        if isinstance(text, str) and text.strip():
            yield Item(id=ident, source=where, text=text)
            continue
        url = row.get(url_col) if url_col else None
        if isinstance(url, str) and url.strip():
            yield Item(id=ident, source=url.strip(), url=url.strip())
            continue
        # An empty row still gets its own (error) row in the output.
        yield Item(id=ident, source=where, text="")


def _unique(items: list[Item]) -> list[Item]:
    seen: dict[str, int] = {}
    out: list[Item] = []
    for item in items:
        count = seen.get(item.id, 0)
        seen[item.id] = count + 1
        if count:
            item = Item(id=f"{item.id}#{count + 1}", source=item.source, text=item.text,
                        url=item.url, path=item.path)
        out.append(item)
    return out
