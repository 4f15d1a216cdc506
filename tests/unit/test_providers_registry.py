"""One provider registry (wasm_agent/providers.json): every consumer sees the same providers with
the same defaults — the model classes, the CLI, the Deno runner, the agent worker, the site config,
and the JS of the site and of Deno (which read the copy the build puts in the site)."""

import json
import re
import sys
import types
from pathlib import Path

import pytest

from wasm_agent import models
from wasm_agent.providers import PROVIDERS, REMOTE_PROVIDERS, registry_text

REPO = Path(__file__).resolve().parents[2]
REGISTRY = json.loads(registry_text())


def test_the_registry_names_each_provider_once_with_its_defaults():
    assert list(PROVIDERS) == list(REGISTRY) == ["openai", "anthropic", "gemini", "browser"]
    assert REMOTE_PROVIDERS == ("openai", "anthropic", "gemini")
    for name, item in REGISTRY.items():
        assert set(item) == {"label", "class", "baseUrl", "keyEnv", "exampleModel", "browserHeaders", "help"}, name


@pytest.mark.parametrize("name", REMOTE_PROVIDERS)
def test_the_model_classes_take_their_defaults_from_the_registry(name):
    info = PROVIDERS[name]
    cls = info.model_class()
    assert cls is getattr(models, REGISTRY[name]["class"])
    assert (cls.provider, cls.default_api_base, cls.api_key_env) == (info.label, info.base_url, info.key_env)
    model = cls("m", api_key="k")
    assert model.api_base == info.base_url.rstrip("/")
    headers = model.auth_headers()
    assert {k: headers.get(k) for k in info.browser_headers} == info.browser_headers


@pytest.mark.cpython_only
def test_the_cli_offers_the_registrys_http_providers_and_their_key_variables(monkeypatch):
    from wasm_agent import cli

    parser_choices = None
    for action in _subparser(cli, "run")._actions:
        if action.dest == "provider":
            parser_choices = sorted(action.choices)
    assert parser_choices == sorted(REMOTE_PROVIDERS)
    for name in REMOTE_PROVIDERS:
        monkeypatch.setenv(PROVIDERS[name].key_env, f"key-of-{name}")
        args = types.SimpleNamespace(provider=name, model="m", api_key_env=None, api_base=None)
        model = cli.make_model(args)
        assert type(model).__name__ == REGISTRY[name]["class"] and model.api_key == f"key-of-{name}"


def _subparser(cli, name):
    import argparse

    captured = {}
    original = argparse.ArgumentParser.parse_args

    def capture(self, *args, **kwargs):
        captured["parser"] = self
        raise SystemExit(0)

    argparse.ArgumentParser.parse_args = capture
    try:
        with pytest.raises(SystemExit):
            cli.main(["run", "t", "--model", "m"])
    finally:
        argparse.ArgumentParser.parse_args = original
    sub = next(a for a in captured["parser"]._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


@pytest.mark.cpython_only
@pytest.mark.parametrize("name", REMOTE_PROVIDERS)
def test_the_deno_runner_may_reach_the_registrys_host_only(tmp_path, name):
    from urllib.parse import urlsplit

    from wasm_agent.deno_agent import agent_command

    command = agent_command("deno", tmp_path, "t", provider=name, model="m")
    assert f"--allow-net={urlsplit(PROVIDERS[name].base_url).hostname}:443" in command


@pytest.mark.cpython_only
def test_the_agent_worker_builds_every_registry_provider(monkeypatch):
    # browser_agent runs in Pyodide: stand-ins for the two JS modules it imports let CPython load it.
    monkeypatch.setitem(sys.modules, "js", types.SimpleNamespace(JSON=None, Object=None))
    ffi = types.SimpleNamespace(create_once_callable=None, to_js=None)
    monkeypatch.setitem(sys.modules, "pyodide", types.SimpleNamespace(ffi=ffi))
    monkeypatch.setitem(sys.modules, "pyodide.ffi", ffi)
    for module in [m for m in sys.modules if m.startswith("wasm_agent.platform.browser_")]:
        monkeypatch.delitem(sys.modules, module)
    from wasm_agent.platform.browser_agent import MODEL_PROVIDERS

    assert set(MODEL_PROVIDERS) == {*PROVIDERS, "scripted"}
    for name in REMOTE_PROVIDERS:
        model = MODEL_PROVIDERS[name]({"model": "m", "apiKey": "k"})
        assert type(model).__name__ == REGISTRY[name]["class"] and model.api_base == PROVIDERS[name].base_url


@pytest.mark.cpython_only
def test_the_site_config_accepts_exactly_the_registrys_providers(tmp_path):
    from build.config import ConfigError, load_config

    for name in PROVIDERS:
        (tmp_path / "agent.toml").write_text(f'[model]\nprovider = "{name}"\n')
        assert load_config(tmp_path / "agent.toml").provider == name
    (tmp_path / "agent.toml").write_text('[model]\nprovider = "scripted"\n')
    with pytest.raises(ConfigError, match=f"known: {', '.join(PROVIDERS)}$"):
        load_config(tmp_path / "agent.toml")


def _code_strings(path: Path) -> list[str]:
    """The string values a consumer's code holds (comments and docstrings left out: they may give examples)."""
    import ast

    text = path.read_text()
    if path.suffix == ".py":
        tree = ast.parse(text)
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                and isinstance(node.value, str) and id(node) not in docstrings]
    code = re.sub(r"<!--.*?-->", "", re.sub(r"^\s*//.*$", "", text, flags=re.M), flags=re.S)
    return re.findall(r'"([^"\n]*)"|`([^`]*)`|>([^<]+)<', code)


@pytest.mark.cpython_only  # reads the checkout's files
@pytest.mark.parametrize("path", ["web/app.js", "deno/agent.js", "web/index.html", "wasm_agent/cli.py",
                                  "wasm_agent/deno_agent.py", "wasm_agent/platform/browser_agent.py"])
def test_no_consumer_keeps_its_own_copy_of_a_providers_defaults(path):
    strings = ["".join(item) if isinstance(item, tuple) else item for item in _code_strings(REPO / path)]
    for name, item in REGISTRY.items():
        for value in (item["baseUrl"], item["keyEnv"], item["exampleModel"], item["label"]):
            if value:
                assert not any(value in text.strip() and len(text.strip()) <= len(value) + 2 for text in strings), \
                    f"{path} repeats {value!r} of {name}: read providers.json instead"
    assert not re.search(r'"(openai|anthropic|gemini)",\s*"(openai|anthropic|gemini)"', (REPO / path).read_text())
