"""Retry policy shared by every HTTP client of the distribution: one place for it.

``Retry-After`` parsing (RFC 9110: ASCII digits or an HTTP date, plus the
``retry-after-ms`` header some model servers send) and exponential backoff are written
here once; the model client (``summarizer``) and the fetcher (``crawler``) both use
:class:`RetryPolicy` and :func:`parse_retry_after` through the public ``summarizer``
names, so the two cannot drift.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timezone

__all__ = ["RetryPolicy", "parse_retry_after"]

# RFC 9110 section 10.2.3: delay-seconds = 1*DIGIT, ASCII only. ``float()`` and
# ``str.isdigit()`` both accept Unicode digits such as "²", which are not a delay.
_DELAY_SECONDS = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,6})?")
_MAX_HEADER = 200


def _seconds(value: str) -> float | None:
    value = value.strip()
    if len(value) > _MAX_HEADER:
        return None
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)
    return None


def parse_retry_after(
    headers: Mapping[str, str] | str | None, *, now: float | None = None
) -> float | None:
    """Seconds a server asked to wait, or ``None`` when it asked nothing readable.

    Args:
        headers: response headers (``retry-after-ms`` is read first, then ``Retry-After``),
            or the value of one ``Retry-After`` header.
        now: the current Unix time, for HTTP dates (default: the system clock).

    Returns:
        A delay of at least 0 seconds; a date in the past is 0. Anything that is neither
        ASCII digits nor an HTTP date (``"soon"``, ``"²"``, ``"-1"``) is ``None``.
    """
    if headers is None:
        return None
    if isinstance(headers, str):
        value: str | None = headers
    else:
        millis = headers.get("retry-after-ms")
        if millis:
            seconds = _seconds(millis)
            if seconds is not None:
                return seconds / 1000
        value = headers.get("retry-after")
    if not value:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    value = value.strip()
    if len(value) > _MAX_HEADER or not value.isascii():
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    try:
        return max(0.0, when.timestamp() - current)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How failed requests are retried.

    Args:
        max_retries: retries after the first attempt (0 disables retrying).
        backoff: first delay in seconds; doubled at each retry.
        max_backoff: most seconds one backoff delay may last.
        max_retry_after: most seconds a server's ``Retry-After`` may make us wait; a server
            that asks for longer is not retried at all (the caller fails at once and names
            the wait it was asked for).
        jitter: randomize backoff delays (between half and all of the delay).
    """

    max_retries: int = 4
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 60.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if min(self.backoff, self.max_backoff, self.max_retry_after) < 0:
            raise ValueError("backoff, max_backoff and max_retry_after must be >= 0")

    def backoff_delay(self, attempt: int) -> float:
        """Backoff before retry number ``attempt + 1`` (``attempt`` is 0-based)."""
        delay = min(self.backoff * (2.0 ** min(attempt, 64)), self.max_backoff)
        if self.jitter:
            delay *= random.uniform(0.5, 1.0)
        return delay

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or ``None`` not to retry.

        ``None`` when the retries are spent, or when the server's ``retry_after`` exceeds
        :attr:`max_retry_after` (waiting less than it asked would only be refused again).
        """
        if attempt >= self.max_retries:
            return None
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return max(0.0, retry_after)
        return self.backoff_delay(attempt)
