"""Agent tools and pipelines built on ``summarizer`` and ``crawler``."""

from __future__ import annotations
