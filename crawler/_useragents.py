"""User-agent strings: an honest default and named browser presets.

A fetch sends exactly one ``User-Agent``. By default it names this package and
its version so site operators can tell who is calling. Named presets
(``"chrome"``, ``"firefox"``...) send the string of a current browser together
with the ``Accept`` and ``Accept-Language`` headers that browser sends, because
a browser UA with ``Accept: */*`` is an obvious mismatch. Any other string is
sent verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

__all__ = [
    "DEFAULT_USER_AGENT",
    "PRESETS",
    "UserAgent",
    "preset_names",
    "resolve_user_agent",
]

_DIST = "llm-digest"
_HOMEPAGE = "https://pypi.org/project/llm-digest/"


def _version() -> str:
    try:
        return metadata.version(_DIST)
    except metadata.PackageNotFoundError:  # running from a source tree without install
        return "0"


DEFAULT_USER_AGENT = f"{_DIST}/{_version()} (+{_HOMEPAGE})"
"""The honest default: package name, version and where to read about it."""

_HTML_ACCEPT_CHROMIUM = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8"
)
_HTML_ACCEPT_FIREFOX = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
)
_HTML_ACCEPT_SAFARI = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@dataclass(frozen=True)
class UserAgent:
    """A user-agent string and the content-negotiation headers that go with it."""

    user_agent: str
    accept: str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    accept_language: str = "en-US,en;q=0.9"

    def headers(self) -> dict[str, str]:
        """Return the request headers this user agent sends."""
        return {
            "User-Agent": self.user_agent,
            "Accept": self.accept,
            "Accept-Language": self.accept_language,
        }


PRESETS: dict[str, UserAgent] = {
    "default": UserAgent(DEFAULT_USER_AGENT),
    "chrome": UserAgent(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        accept=_HTML_ACCEPT_CHROMIUM,
        accept_language="en-US,en;q=0.9",
    ),
    "firefox": UserAgent(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        accept=_HTML_ACCEPT_FIREFOX,
        accept_language="en-US,en;q=0.5",
    ),
    "safari": UserAgent(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        accept=_HTML_ACCEPT_SAFARI,
        accept_language="en-US,en;q=0.9",
    ),
    "edge": UserAgent(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        accept=_HTML_ACCEPT_CHROMIUM,
        accept_language="en-US,en;q=0.9",
    ),
    "mobile": UserAgent(
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        accept=_HTML_ACCEPT_CHROMIUM,
        accept_language="en-US,en;q=0.9",
    ),
    "iphone": UserAgent(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        accept=_HTML_ACCEPT_SAFARI,
        accept_language="en-US,en;q=0.9",
    ),
    "googlebot": UserAgent(
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        accept="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        accept_language="en-US,en;q=0.9",
    ),
}
"""Named presets, selectable with ``user_agent="chrome"`` (case-insensitive)."""

PRESETS["android"] = PRESETS["mobile"]


def preset_names() -> list[str]:
    """Return the preset names, sorted."""
    return sorted(PRESETS)


def resolve_user_agent(user_agent: str | UserAgent | None) -> UserAgent:
    """Turn a ``user_agent=`` argument into a :class:`UserAgent`.

    ``None`` means the honest default; a preset name (any case) selects the
    preset; any other string is sent verbatim with generic Accept headers.

    Raises:
        ValueError: the string is empty or contains a line break (header injection).
        TypeError: the argument is neither ``None``, a string nor a ``UserAgent``.
    """
    if user_agent is None:
        return PRESETS["default"]
    if isinstance(user_agent, UserAgent):
        _check_header_value(user_agent.user_agent)
        return user_agent
    if not isinstance(user_agent, str):
        raise TypeError(
            f"user_agent must be a string, a preset name or None, not {type(user_agent).__name__}"
        )
    preset = PRESETS.get(user_agent.strip().lower())
    if preset is not None:
        return preset
    _check_header_value(user_agent)
    return UserAgent(user_agent.strip())


def _check_header_value(value: str) -> None:
    if not value.strip():
        raise ValueError(
            "user_agent is empty; pass None for the default or one of the presets: "
            + ", ".join(preset_names())
        )
    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError("user_agent must not contain line breaks or NUL characters")
