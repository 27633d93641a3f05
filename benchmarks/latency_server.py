"""A local OpenAI-compatible chat server with a latency model, for the map-reduce benchmark.

Run alone: ``python benchmarks/latency_server.py [--port 0]`` prints ``PORT <n>`` and serves
on 127.0.0.1 until killed. The benchmark starts it as a separate process so that its own
work (counting prompts, building replies) never competes with the client for the GIL.

- ``POST /v1/chat/completions``: counts the prompt with o200k_base (content of every message
  plus 4 tokens per message plus 3, OpenAI's convention), rejects it with HTTP 400
  ``context_length_exceeded`` when prompt + ``max_tokens`` is larger than the window, then
  waits ``base_delay + per_token_delay * completion_tokens`` seconds and replies with a
  deterministic compression of the last user message: ``ratio`` of its tokens (at least
  ``min_reply``, at most ``max_tokens`` and ``default_cap``), made of evenly spaced words
  of the input. Every reply starts with a marker ``[sN]``; a request whose prompt contains
  markers is one level above the highest of them, which is how the number of levels of any
  system's tree is measured without looking inside it.
- ``POST /reset`` with a JSON body (``window``, ``base_delay``, ``per_token_delay``,
  ``ratio``, ``min_reply``, ``default_cap``) clears the log and sets the model.
- ``GET /stats``: calls, prompt and completion tokens, largest prompt, peak concurrency,
  levels, rejected requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

DEFAULTS = {
    "window": 8192,
    "base_delay": 0.02,
    "per_token_delay": 0.0001,
    "ratio": 0.1,
    "min_reply": 32,
    "default_cap": 512,
}
_MARKER = re.compile(r"\[s(\d+)\]")


class Model:
    """The deterministic, compressing model and its request log."""

    def __init__(self) -> None:
        self.enc = _common.o200k()
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.reset({})

    def reset(self, config: dict[str, Any]) -> None:
        unknown = set(config) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(DEFAULTS)}")
        self.config = {**DEFAULTS, **config}
        self.calls = 0
        self.prompt_tokens: list[int] = []
        self.completion_tokens: list[int] = []
        self.levels: dict[int, int] = {}
        self.max_level = 0
        self.rejected = 0
        self.active = 0
        self.peak = 0
        self.next_id = 1

    def stats(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "calls": self.calls,
            "prompt_tokens": sum(self.prompt_tokens),
            "completion_tokens": sum(self.completion_tokens),
            "max_prompt_tokens": max(self.prompt_tokens, default=0),
            "levels": self.max_level,
            "rejected": self.rejected,
            "peak_concurrency": self.peak,
        }

    def _work(self, messages: list[dict[str, Any]], max_tokens: int | None) -> dict[str, Any]:
        """CPU part of a request (run in a thread: tiktoken releases the GIL)."""
        enc = self.enc
        contents = [_content_text(m.get("content")) for m in messages]
        prompt = sum(len(enc.encode_ordinary(c)) + 4 for c in contents) + 3
        window = self.config["window"]
        if prompt + (max_tokens or 0) > window:
            return {"error": prompt}
        user = next(
            (
                c
                for m, c in zip(reversed(messages), reversed(contents), strict=False)
                if m.get("role") == "user"
            ),
            contents[-1] if contents else "",
        )
        level = 1 + max((self.levels.get(int(n), 0) for n in _MARKER.findall(user)), default=0)
        user_tokens = len(enc.encode_ordinary(user))
        cap = self.config["default_cap"] if max_tokens is None else max_tokens
        target = max(self.config["min_reply"], math.ceil(user_tokens * self.config["ratio"]))
        target = max(1, min(target, cap, window - prompt))
        text, used = _compress(enc, user, target)
        return {"prompt": prompt, "text": text, "completion": used, "level": level}

    async def complete(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        loop = asyncio.get_running_loop()
        messages = body.get("messages") or []
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            work = await loop.run_in_executor(self.pool, self._work, messages, max_tokens)
            if "error" in work:
                self.rejected += 1
                return 400, {
                    "error": {
                        "message": (
                            f"This model's maximum context length is {self.config['window']} "
                            f"tokens. However, you requested {work['error'] + (max_tokens or 0)} "
                            f"tokens ({work['error']} in the messages, {max_tokens or 0} in "
                            "the completion)."
                        ),
                        "type": "invalid_request_error",
                        "code": "context_length_exceeded",
                    }
                }
            marker_id = self.next_id
            self.next_id += 1
            self.levels[marker_id] = work["level"]
            self.max_level = max(self.max_level, work["level"])
            text = f"[s{marker_id}] {work['text']}"
            completion = work["completion"] + len(self.enc.encode_ordinary(f"[s{marker_id}] "))
            self.calls += 1
            self.prompt_tokens.append(work["prompt"])
            self.completion_tokens.append(completion)
            cfg = self.config
            await asyncio.sleep(cfg["base_delay"] + cfg["per_token_delay"] * completion)
            return 200, {
                "id": f"chatcmpl-{marker_id}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "bench-model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": work["prompt"],
                    "completion_tokens": completion,
                    "total_tokens": work["prompt"] + completion,
                },
            }
        finally:
            self.active -= 1


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _compress(enc: Any, text: str, target: int) -> tuple[str, int]:
    """Evenly spaced words of ``text`` (markers removed), cut to ``target`` tokens."""
    words = _MARKER.sub("", text).split()
    if not words:
        return "", 0
    # Words average a little over one token; take ~target words, evenly spaced.
    stride = max(1, len(words) // max(1, target))
    picked = " ".join(words[::stride][: target + 1])
    tokens = enc.encode_ordinary(picked)[:target]
    out = enc.decode(tokens).replace("\ufffd", "")
    return out, len(enc.encode_ordinary(out))


async def _handle(model: Model, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "0"))
            raw = await reader.readexactly(length) if length else b""
            status, payload = 404, {"error": {"message": f"no route {method} {path}"}}
            try:
                if method == "POST" and path.rstrip("/").endswith("/chat/completions"):
                    status, payload = await model.complete(json.loads(raw or b"{}"))
                elif method == "POST" and path == "/reset":
                    model.reset(json.loads(raw or b"{}"))
                    status, payload = 200, model.stats()
                elif method == "GET" and path == "/stats":
                    status, payload = 200, model.stats()
            except (ValueError, KeyError) as exc:
                status, payload = 400, {"error": {"message": str(exc), "type": "bad_request"}}
            body = json.dumps(payload).encode()
            reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(port: int) -> None:
    model = Model()
    server = await asyncio.start_server(
        lambda r, w: _handle(model, r, w), "127.0.0.1", port, backlog=1024, limit=2**26
    )
    actual = server.sockets[0].getsockname()[1]
    print(f"PORT {actual}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    _common.ensure_offline_tiktoken()
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
