"""The LLM Digest tool provider: no credentials (pages are public, the model is Dify's)."""

from __future__ import annotations

from typing import Any

from dify_plugin import ToolProvider


class LlmDigestProvider(ToolProvider):
    def _validate_credentials(self, credentials: dict[str, Any]) -> None:
        # Nothing to validate: get_url reads public pages and summarize uses the model
        # the workspace already configured in Dify.
        return None
