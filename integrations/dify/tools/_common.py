"""What both tools share: the Dify model as a summarizer backend, parameter checks, errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dify_plugin.entities.model.llm import LLMModelConfig, LLMResult
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    PromptMessage,
    SystemPromptMessage,
    UserPromptMessage,
)

from summarizer import CallableBackend, Completion, Message

#: Context window assumed when the tool's ``context_window`` is left empty.
DEFAULT_CONTEXT_WINDOW = 8192
#: Length of the final summary, in tokens, when ``target_tokens`` is left empty.
DEFAULT_TARGET_TOKENS = 500

_ROLES: dict[str, type[PromptMessage]] = {
    "system": SystemPromptMessage,
    "user": UserPromptMessage,
    "assistant": AssistantPromptMessage,
}


class DigestToolError(Exception):
    """A tool call failed; the message says what went wrong and how to fix it.

    dify_plugin 0.10 has no dedicated tool-invocation error class: the plugin daemon
    reports any exception a tool raises to the user with its type and message.
    """


def positive_int(params: Mapping[str, Any], name: str, default: int | None) -> int | None:
    """Read an optional positive integer parameter (Dify sends numbers as int or float)."""
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DigestToolError(f"{name} must be a positive whole number, got {value!r}") from None
    if number != int(number) or number < 1:
        raise DigestToolError(f"{name} must be a positive whole number, got {value!r}")
    return int(number)


def optional_text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DigestToolError(f"{name} must be text, got {type(value).__name__}")
    return value.strip() or None


def _reply_text(result: LLMResult) -> str:
    content = result.message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "data", "") or "" for part in content)


def model_backend(session: Any, model: Any, *, context_window: int) -> CallableBackend:
    """The model chosen in the tool's model selector, as a summarizer backend.

    Every call goes through ``session.model.llm.invoke`` (non-streaming) with the engine's
    output cap as ``max_tokens``, so each request stays inside ``context_window``.
    """
    if not isinstance(model, Mapping) or not model.get("provider") or not model.get("model"):
        raise DigestToolError(
            "model is required: choose a language model in the tool's model selector"
        )
    base_params = dict(model.get("completion_params") or {})
    provider = str(model["provider"])
    name = str(model["model"])
    mode = str(model.get("mode") or "chat")

    def call(messages: list[Message], max_tokens: int) -> Completion:
        config = LLMModelConfig(
            provider=provider,
            model=name,
            mode=mode,
            completion_params={**base_params, "max_tokens": max_tokens},
        )
        prompt = [_ROLES.get(m["role"], UserPromptMessage)(content=m["content"]) for m in messages]
        result = session.model.llm.invoke(model_config=config, prompt_messages=prompt, stream=False)
        usage = getattr(result, "usage", None)
        return Completion(
            text=_reply_text(result),
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            model=getattr(result, "model", None) or name,
        )

    return CallableBackend(call, name=f"dify:{provider}/{name}", context_window=context_window)
