"""``python -m summarizer``: the ``summarize`` command."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
