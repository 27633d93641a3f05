"""Build the .difypkg of the LLM Digest plugin: ``python integrations/dify/package.py OUTDIR``.

The package is a zip with ``manifest.yaml`` and ``main.py`` at its root, the plugin's own
files (minus what ``.difyignore`` lists) and the ``summarizer`` and ``crawler`` sources of
this checkout, since llm-digest is not on PyPI.
"""

from __future__ import annotations

import fnmatch
import re
import sys
import zipfile
from pathlib import Path

PLUGIN = Path(__file__).resolve().parent
REPO = PLUGIN.parents[1]
BUNDLED = ("summarizer", "crawler")
ALWAYS_IGNORED = ("__pycache__/", "*.pyc")


class PackageError(Exception):
    """The plugin cannot be packaged; the message says why and what to fix."""


def _patterns() -> list[str]:
    lines = list(ALWAYS_IGNORED)
    ignore = PLUGIN / ".difyignore"
    if ignore.is_file():
        for line in ignore.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    for pattern in patterns:
        if pattern.endswith("/"):
            name = pattern.rstrip("/")
            if any(fnmatch.fnmatch(part, name) for part in parts[:-1]):
                return True
        elif fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(parts[-1], pattern):
            return True
    return False


def _version() -> str:
    manifest = (PLUGIN / "manifest.yaml").read_text("utf-8")
    match = re.search(r"^version:\s*([\w.\-]+)", manifest, re.M)
    if match is None:
        raise PackageError("manifest.yaml has no top-level 'version:' line; add one")
    return match.group(1)


def build(outdir: Path) -> Path:
    """Write ``llm_digest-<version>.difypkg`` into ``outdir`` and return its path."""
    for name in ("manifest.yaml", "main.py"):
        if not (PLUGIN / name).is_file():
            raise PackageError(f"{PLUGIN / name} is missing; the plugin root needs it")
    for name in BUNDLED:
        if not (REPO / name / "__init__.py").is_file():
            raise PackageError(
                f"{REPO / name} is not a package; run package.py from an llm-digest checkout"
            )
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / f"llm_digest-{_version()}.difypkg"
    patterns = _patterns()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(PLUGIN.rglob("*")):
            rel = path.relative_to(PLUGIN).as_posix()
            if path.is_file() and not _ignored(rel, patterns):
                archive.write(path, rel)
        for name in BUNDLED:
            for path in sorted((REPO / name).rglob("*")):
                rel = path.relative_to(REPO).as_posix()
                if path.is_file() and not _ignored(rel, list(ALWAYS_IGNORED)):
                    archive.write(path, rel)
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python integrations/dify/package.py OUTDIR", file=sys.stderr)
        return 2
    try:
        target = build(Path(argv[0]))
    except PackageError as exc:
        print(f"package.py: {exc}", file=sys.stderr)
        return 1
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
