"""Token-exact recursive map-reduce summaries with any OpenAI-compatible LLM, or offline.

>>> from summarizer import summarize
>>> summarize(long_text)                                   # offline, extractive
>>> summarize(long_text, model="gpt-4o-mini")              # OpenAI (OPENAI_API_KEY)
>>> summarize(long_text, base_url="http://localhost:11434/v1", model="llama3.1")  # Ollama
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._backend import Backend, Completion, Message, complete_sync
from ._cache import CacheInfo, ResponseCache
from ._callable import CallableBackend
from ._chunking import Chunk, split_text
from ._engine import Summarizer, asummarize, summarize
from ._extractive import ExtractiveBackend
from ._fake import FakeBackend
from ._openai import OpenAIBackend
from ._prompts import Prompts
from ._registry import available_backends, get_backend
from ._results import PartialSummary, Plan, ProgressEvent, SummaryResult, SummaryStats
from ._retry import RetryPolicy, parse_retry_after
from ._sync import LoopThread, run_sync
from ._tokens import Tokenizer, get_tokenizer
from .errors import (
    BackendConnectionError,
    BackendError,
    BackendHTTPError,
    BackendResponseError,
    BackendTimeout,
    ChunkFailed,
    ContextLengthExceeded,
    ContextWindowTooSmall,
    DuplicateBackend,
    EmptySummary,
    MapReduceError,
    MissingCredentials,
    RateLimited,
    SummarizerError,
    SummaryDidNotFit,
    UnknownBackend,
)

try:
    __version__ = version("llm-digest")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "Backend",
    "BackendConnectionError",
    "BackendError",
    "BackendHTTPError",
    "BackendResponseError",
    "BackendTimeout",
    "CacheInfo",
    "CallableBackend",
    "Chunk",
    "ChunkFailed",
    "Completion",
    "ContextLengthExceeded",
    "ContextWindowTooSmall",
    "DuplicateBackend",
    "EmptySummary",
    "ExtractiveBackend",
    "FakeBackend",
    "LoopThread",
    "MapReduceError",
    "Message",
    "MissingCredentials",
    "OpenAIBackend",
    "PartialSummary",
    "Plan",
    "ProgressEvent",
    "Prompts",
    "RateLimited",
    "ResponseCache",
    "RetryPolicy",
    "Summarizer",
    "SummarizerError",
    "SummaryDidNotFit",
    "SummaryResult",
    "SummaryStats",
    "Tokenizer",
    "UnknownBackend",
    "__version__",
    "asummarize",
    "available_backends",
    "complete_sync",
    "get_backend",
    "get_tokenizer",
    "parse_retry_after",
    "run_sync",
    "split_text",
    "summarize",
]
