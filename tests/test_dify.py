"""The Dify plugin (integrations/dify), checked offline with the real dify_plugin SDK.

dify_plugin 0.10 needs Python 3.12 and monkey-patches the process with gevent on import,
so every check runs in a subprocess of a Python 3.12 virtual environment that a
session-scoped fixture creates once (under ~/.cache/llm-digest-tests/dify-venv, reused
while the plugin's requirements.txt is unchanged). No Python 3.12 is a failure, not a skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "integrations" / "dify"
VENV = Path.home() / ".cache" / "llm-digest-tests" / "dify-venv"
CHECK_TIMEOUT = 90


def _is_python312(candidate: str) -> bool:
    try:
        done = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip() == "True"


def _find_python312() -> str:
    candidates = [shutil.which("python3.12") or ""]
    candidates += [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))]
    for candidate in candidates:
        if candidate and _is_python312(candidate):  # a pyenv shim may point nowhere
            return candidate
    pytest.fail(
        "the Dify plugin tests need Python 3.12 (dify_plugin 0.10 requires it): install "
        "python3.12 on PATH or with pyenv (~/.pyenv/versions/3.12.x)",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def dify_python() -> Path:
    requirements = PLUGIN / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes() + b"pyyaml").hexdigest()
    python = VENV / "bin" / "python"
    marker = VENV / ".llm-digest-requirements"
    if python.exists() and marker.exists() and marker.read_text() == digest:
        return python
    subprocess.run([_find_python312(), "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(requirements), "pyyaml"],
        check=True,
        timeout=900,
    )
    marker.write_text(digest)
    return python


def run_check(python: Path, code: str) -> dict:
    """Run ``code`` in the plugin root with the SDK; it prints one JSON line last."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(PLUGIN), str(REPO)])  # as in the .difypkg
    done = subprocess.run(
        [str(python), "-c", textwrap.dedent(code)],
        cwd=PLUGIN,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


FAKE_SESSION = """
import json
from types import SimpleNamespace

from dify_plugin.entities.model.llm import LLMResult, LLMUsage
from dify_plugin.entities.model.message import AssistantPromptMessage
from dify_plugin.entities.tool import ToolRuntime

from summarizer import Tokenizer

TOK = Tokenizer.from_encoding("o200k_base")


class FakeLLM:
    def __init__(self, fail=None):
        self.requests = []
        self.fail = fail

    def invoke(self, model_config, prompt_messages, tools=None, stop=None, stream=True):
        assert stream is False
        text = "\\n".join(m.content for m in prompt_messages)
        self.requests.append({
            "provider": model_config.provider,
            "model": model_config.model,
            "max_tokens": model_config.completion_params["max_tokens"],
            "temperature": model_config.completion_params.get("temperature"),
            "prompt_tokens": sum(TOK.count(m.content) for m in prompt_messages),
            "roles": [m.role.value for m in prompt_messages],
            "text": text,
        })
        if self.fail:
            raise RuntimeError(self.fail)
        n = len(self.requests)
        return LLMResult(
            model=model_config.model,
            message=AssistantPromptMessage(content=f"Summary {n}."),
            usage=LLMUsage.empty_usage(),
        )


def make(tool_class, llm):
    session = SimpleNamespace(model=SimpleNamespace(llm=llm))
    runtime = ToolRuntime(credentials={}, user_id=None, session_id=None)
    return tool_class(runtime=runtime, session=session)


def outputs(messages):
    out = []
    for m in messages:
        kind = m.type.value
        payload = m.message.text if kind == "text" else m.message.json_object
        out.append([kind, payload])
    return out


MODEL = {
    "provider": "langgenius/openai/openai",
    "model": "gpt-4o-mini",
    "mode": "chat",
    "model_type": "llm",
    "completion_params": {"temperature": 0.2},
}
"""


def test_long_text_is_summarized_in_bounded_ordered_calls(dify_python: Path) -> None:
    result = run_check(
        dify_python,
        FAKE_SESSION
        + """
from tools.summarize import SummarizeTool

text = " ".join(f"Fact {i:04d} about the harbour lights." for i in range(1500))
llm = FakeLLM()
tool = make(SummarizeTool, llm)
out = outputs(tool.invoke({
    "text": text, "model": MODEL, "context_window": 1024, "target_tokens": 120,
    "instruction": "Focus on lights.", "language": "French",
}))
print(json.dumps({"requests": llm.requests, "out": out}))
""",
    )
    requests, out = result["requests"], result["out"]
    assert len(requests) >= 4
    for request in requests:
        assert request["prompt_tokens"] + request["max_tokens"] <= 1024
        assert request["model"] == "gpt-4o-mini"
        assert request["provider"] == "langgenius/openai/openai"
        assert request["temperature"] == 0.2  # the user's completion params are kept
    maps = [r for r in requests if "Fact " in r["text"]]
    assert len(maps) >= 3
    firsts = [int(r["text"].split("Fact ", 1)[1][:4]) for r in maps]
    assert firsts == sorted(firsts) and firsts[0] == 0
    assert "French" in requests[-1]["text"] and "Focus on lights." in requests[-1]["text"]
    final = f"Summary {len(requests)}."
    assert out[0] == ["text", final]
    assert out[1][0] == "json"
    assert out[1][1]["summary"] == final
    assert out[1][1]["stats"]["calls"] == len(requests)
    assert out[1][1]["stats"]["backend"] == "dify:langgenius/openai/openai/gpt-4o-mini"


def test_failing_model_raises_the_tool_error_with_its_message(dify_python: Path) -> None:
    result = run_check(
        dify_python,
        FAKE_SESSION
        + """
from tools.summarize import SummarizeTool
from tools._common import DigestToolError

tool = make(SummarizeTool, FakeLLM(fail="quota exhausted for this workspace"))
try:
    list(tool.invoke({"text": "A sentence. " * 50, "model": MODEL}))
    print(json.dumps({"raised": None}))
except DigestToolError as exc:
    print(json.dumps({"raised": type(exc).__name__, "message": str(exc)}))
""",
    )
    assert result["raised"] == "DigestToolError"
    assert "quota exhausted for this workspace" in result["message"]
    assert result["message"].startswith("summarize failed:")


def test_bad_parameters_and_private_addresses_are_refused(dify_python: Path) -> None:
    result = run_check(
        dify_python,
        FAKE_SESSION
        + """
from tools.get_url import GetUrlTool
from tools.summarize import SummarizeTool
from tools._common import DigestToolError

cases = {
    "no_model": (SummarizeTool, {"text": "Some text."}),
    "bad_window": (SummarizeTool, {"text": "x", "model": MODEL, "context_window": -5}),
    "loopback": (GetUrlTool, {"url": "http://127.0.0.1:9/secret"}),
    "custom_empty": (GetUrlTool, {"url": "https://example.com/", "user_agent": "custom"}),
    "unknown_agent": (GetUrlTool, {"url": "https://example.com/", "user_agent": "netscape"}),
}
found = {}
for name, (cls, params) in cases.items():
    llm = FakeLLM()
    try:
        list(make(cls, llm).invoke(params))
        found[name] = None
    except DigestToolError as exc:
        found[name] = str(exc)
    assert not llm.requests
print(json.dumps(found))
""",
    )
    assert "model is required" in result["no_model"]
    assert "context_window must be a positive whole number" in result["bad_window"]
    assert result["loopback"].startswith("get_url failed for http://127.0.0.1:9/secret")
    assert "127.0.0.1" in result["loopback"]
    assert "custom_user_agent is empty" in result["custom_empty"]
    assert "unknown user_agent 'netscape'" in result["unknown_agent"]


def test_yaml_files_are_consistent_with_the_sdk_and_the_code(dify_python: Path) -> None:
    result = run_check(
        dify_python,
        """
import ast, json, pathlib, re
import yaml
from dify_plugin.core.entities.plugin.setup import PluginConfiguration
from dify_plugin.entities.tool import ToolConfiguration, ToolProviderConfiguration

root = pathlib.Path(".")
manifest = yaml.safe_load((root / "manifest.yaml").read_text())
PluginConfiguration.model_validate(manifest)
labels = [manifest["label"], manifest["description"]]
report = {"version": manifest["version"], "meta_version": manifest["meta"]["version"],
          "llm": manifest["resource"]["permission"]["model"], "missing": [], "tools": {},
          "runner": manifest["meta"]["runner"]}
from dify_plugin import Tool, ToolProvider
from dify_plugin.core.plugin_registration import _source_to_module_name
from dify_plugin.core.utils.class_loader import load_single_subclass_from_source

def load(source, parent):  # as the SDK's PluginRegistration loads classes at start-up
    return load_single_subclass_from_source(
        module_name=_source_to_module_name(source),
        script_path=str(root.resolve() / source),
        parent_type=parent,
    ).__name__

report_classes = []
for provider_file in manifest["plugins"]["tools"]:
    provider = yaml.safe_load((root / provider_file).read_text())
    report_classes.append(load(provider["extra"]["python"]["source"], ToolProvider))
    for tool_file in provider["tools"]:
        tool = yaml.safe_load((root / tool_file).read_text())
        report_classes.append(load(tool["extra"]["python"]["source"], Tool))
    labels += [provider["identity"]["label"], provider["identity"]["description"]]
    for f in [provider["extra"]["python"]["source"], *provider["tools"]]:
        if not (root / f).is_file():
            report["missing"].append(f)
    ToolProviderConfiguration.model_validate({**provider, "tools": []})
    for tool_file in provider["tools"]:
        tool = yaml.safe_load((root / tool_file).read_text())
        ToolConfiguration.model_validate(tool)
        source = root / tool["extra"]["python"]["source"]
        if not source.is_file():
            report["missing"].append(str(source))
            continue
        labels += [tool["identity"]["label"], tool["description"]["human"]]
        read = set()
        for path in [source, root / "tools" / "_common.py", root / "tools" / "summarize.py"]:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    read.add(node.value)
        params = {}
        for p in tool["parameters"]:
            labels += [p["label"], p["human_description"]]
            params[p["name"]] = {"type": p["type"], "scope": p.get("scope"),
                                 "default": p.get("default"), "read": p["name"] in read}
        report["tools"][tool["identity"]["name"]] = params
report["bad_labels"] = [l for l in labels if set(l) < {"en_US", "zh_Hans"} or
                        not (l.get("en_US") and l.get("zh_Hans"))]
report["icon"] = (root / "_assets" / manifest["icon"]).is_file()
report["privacy"] = (root / manifest["privacy"]).is_file()
req = (root / "requirements.txt").read_text()
report["sdk_bound"] = re.search(r"^dify_plugin(.*)$", req, re.M).group(1)
import dify_plugin, importlib.metadata as md
report["sdk_installed"] = md.version("dify_plugin")
report["classes"] = report_classes
print(json.dumps(report))
""",
    )
    assert result["missing"] == []
    assert result["classes"] == ["LlmDigestProvider", "GetUrlTool", "SummarizeTool"]
    assert result["bad_labels"] == []
    assert result["icon"] and result["privacy"]
    assert result["version"] == result["meta_version"]
    assert result["llm"] == {"enabled": True, "llm": True}
    assert result["runner"]["language"] == "python" and result["runner"]["version"] == "3.12"
    assert result["sdk_bound"] == ">=0.10,<0.11" and result["sdk_installed"].startswith("0.10.")
    assert set(result["tools"]) == {"get_url", "summarize"}
    for name, params in result["tools"].items():
        unread = [p for p, info in params.items() if not info["read"]]
        assert unread == [], f"{name}.yaml declares parameters its code never reads: {unread}"
    summarize = result["tools"]["summarize"]
    assert set(summarize) >= {"text", "instruction", "language", "target_tokens", "model"}
    assert summarize["model"]["type"] == "model-selector"
    assert summarize["model"]["scope"] == "llm"
    assert summarize["context_window"]["default"] == 8192
    get_url = result["tools"]["get_url"]
    assert set(get_url) >= {"url", "user_agent", "max_tokens", "page", "generate_summary"}
    assert get_url["user_agent"]["type"] == "select"


def test_package_builds_a_difypkg_with_the_right_root(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(PLUGIN / "package.py"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    target = Path(done.stdout.strip())
    assert target.parent == tmp_path / "out" and target.suffix == ".difypkg"
    with zipfile.ZipFile(target) as archive:
        names = set(archive.namelist())
        assert archive.testzip() is None
    assert {"manifest.yaml", "main.py", "requirements.txt", "PRIVACY.md", "README.md"} <= names
    assert {"_assets/icon.svg", "provider/llm_digest.yaml", "provider/llm_digest.py"} <= names
    assert {"tools/get_url.py", "tools/summarize.py", "tools/_common.py"} <= names
    assert {"summarizer/__init__.py", "summarizer/_callable.py", "crawler/__init__.py"} <= names
    assert "package.py" not in names  # listed in .difyignore
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any(n.startswith(("integrations/", "tests/")) for n in names)


def test_package_without_outdir_prints_usage() -> None:
    done = subprocess.run(
        [sys.executable, str(PLUGIN / "package.py")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "usage: python integrations/dify/package.py OUTDIR" in done.stderr


def test_get_url_pages_and_summarizes_a_page(dify_python: Path) -> None:
    result = run_check(
        dify_python,
        FAKE_SESSION
        + """
import functools
import httpx
import crawler
import tools.get_url as get_url_module
from tools.get_url import GetUrlTool

seen = []
def handler(request):
    seen.append(request.headers["user-agent"])
    body = "".join(f"<p>Paragraph {i} tells how lighthouse {i} guides the ships home.</p>"
                   for i in range(300))
    html = f"<html><head><title>Lights</title></head><body><article>{body}</article></body></html>"
    return httpx.Response(200, headers={"content-type": "text/html"}, text=html)

# The address guard still runs on the public IP literal; only the network is replaced.
get_url_module.get_url = functools.partial(crawler.get_url, transport=httpx.MockTransport(handler))
llm = FakeLLM()
out = outputs(make(GetUrlTool, llm).invoke({
    "url": "http://93.184.216.34/lights", "user_agent": "custom",
    "custom_user_agent": "MyAgent/1.0", "max_tokens": 400, "page": 2,
    "generate_summary": True, "model": MODEL, "context_window": 2048,
}))
print(json.dumps({"out": out, "agents": seen, "requests": len(llm.requests)}))
""",
    )
    out = result["out"]
    assert result["agents"] and set(result["agents"]) == {"MyAgent/1.0"}
    assert [kind for kind, _ in out] == ["text", "text", "json"]
    page_text = out[0][1]
    assert "TITLE: Lights" in page_text and "Paragraph 0 " not in page_text  # page 2
    assert result["requests"] >= 1
    assert out[1][1] == f"Summary {result['requests']}."
    info = out[2][1]
    assert info["page"] == 2 and info["summary"] == out[1][1]
    assert info["stats"]["calls"] == result["requests"]
