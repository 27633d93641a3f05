"""Backends by name, through the ``summarizer.backends`` entry-point group.

Built-in backends register exactly as third-party ones do, in ``pyproject.toml``::

    [project.entry-points."summarizer.backends"]
    openai = "summarizer._openai:OpenAIBackend"

An entry point names a factory: a class or function that takes keyword options and returns
an object with ``name``, ``context_window``, ``complete()`` and ``acomplete()``.
"""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ._backend import Backend
from .errors import UnknownBackend

__all__ = ["ENTRY_POINT_GROUP", "available_backends", "get_backend"]

logger = logging.getLogger(__name__)

#: The entry-point group backends register under.
ENTRY_POINT_GROUP = "summarizer.backends"


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)  # the first installed distribution wins
    return found


def available_backends() -> list[str]:
    """Names of the registered backends, sorted."""
    return sorted(_entry_points())


def get_backend(name: str, **options: Any) -> Backend:
    """Build the backend registered as ``name`` with keyword ``options``.

    Raises:
        UnknownBackend: nothing is registered under ``name``; the message lists what is.
        TypeError: the backend does not accept one of ``options``.
    """
    registered = _entry_points()
    ep = registered.get(name)
    if ep is None:
        raise UnknownBackend(name, registered)
    factory = ep.load()
    logger.debug("building backend %r from %s", name, ep.value)
    try:
        return factory(**options)  # type: ignore[no-any-return]
    except TypeError as exc:
        if options and "unexpected keyword argument" in str(exc):
            raise TypeError(
                f"backend {name!r} does not accept the option(s) {', '.join(sorted(options))} "
                f"({exc})"
            ) from exc
        raise
