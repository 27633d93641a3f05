"""Backends by name: the built-ins, registered in code, and the ``summarizer.backends`` group.

Built-in backends are registered here, in :data:`BUILTIN_BACKENDS`, as entry points of the
same form third parties declare in their ``pyproject.toml``::

    [project.entry-points."summarizer.backends"]
    echo = "echo_backend:EchoBackend"

so both load the same way, lazily (naming a backend imports only that backend). An entry
point names a factory: a class or function that takes keyword options and returns an object
with ``name``, ``context_window`` and ``async acomplete()`` (``complete()`` is optional).

A name is registered once: a third-party entry point named like a built-in, or two
distributions registering one name for different factories, raise
:class:`~summarizer.errors.DuplicateBackend` naming both instead of letting the first one
found win. The same factory found twice (a stale install of this package) is one backend.
"""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ._backend import Backend
from .errors import DuplicateBackend, UnknownBackend

__all__ = ["BUILTIN_BACKENDS", "ENTRY_POINT_GROUP", "available_backends", "get_backend"]

logger = logging.getLogger(__name__)

#: The entry-point group third-party backends register under.
ENTRY_POINT_GROUP = "summarizer.backends"

#: The built-in backends, registered in code through the entry-point form.
BUILTIN_BACKENDS: tuple[EntryPoint, ...] = tuple(
    EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)
    for name, value in (
        ("extractive", "summarizer._extractive:ExtractiveBackend"),
        ("fake", "summarizer._fake:FakeBackend"),
        ("openai", "summarizer._openai:OpenAIBackend"),
    )
)


def _source(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return f"built-in {ep.value}"
    return f"entry point of {dist.name} {dist.version}: {ep.value}"


def _registered() -> tuple[dict[str, EntryPoint], dict[str, list[EntryPoint]]]:
    """Every name with its entry point, and the names claimed by different factories."""
    found: dict[str, EntryPoint] = {ep.name: ep for ep in BUILTIN_BACKENDS}
    clashes: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        first = found.setdefault(ep.name, ep)
        if first.value == ep.value:
            continue  # the same factory, found twice
        claims = clashes.setdefault(ep.name, [first])
        if all(c.value != ep.value for c in claims):
            claims.append(ep)
    return found, clashes


def available_backends() -> list[str]:
    """Names of the registered backends, sorted (a contested name is listed once)."""
    return sorted(_registered()[0])


def get_backend(name: str, **options: Any) -> Backend:
    """Build the backend registered as ``name`` with keyword ``options``.

    Raises:
        UnknownBackend: nothing is registered under ``name``; the message lists what is.
        DuplicateBackend: two different factories are registered under ``name``; the
            message names both.
        TypeError: the backend does not accept one of ``options``.
    """
    if not isinstance(name, str):
        raise TypeError(f"backend name must be str, got {type(name).__name__}")
    registered, clashes = _registered()
    if name in clashes:
        raise DuplicateBackend(name, [_source(ep) for ep in clashes[name]])
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
