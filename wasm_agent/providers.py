"""The model providers, named once: `providers.json` next to this file.

Every consumer reads that one file: the CLI (`--provider` choices, the key's
variable), the Deno runner (the host it may reach), the agent worker (which
class `createAgent({model: {provider}})` builds), the site's settings dialog
(web/app.js fetches the copy the build puts in the site) and the site config
(`default_provider`). A provider there has a `label`, the model `class`
(in wasm_agent.models), a default `baseUrl`, the `keyEnv` variable that holds
its key on CPython, the `browserHeaders` a browser request needs, an
`exampleModel` and a `help` line. `baseUrl: null` marks a provider that runs
in the tab (no network, no key).

    >>> PROVIDERS["openai"].key_env
    'OPENAI_API_KEY'
    >>> sorted(REMOTE_PROVIDERS)
    ['anthropic', 'gemini', 'openai']
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

REGISTRY_FILE = "providers.json"


@dataclass(frozen=True)
class ProviderInfo:
    name: str
    label: str
    class_name: str
    base_url: str | None
    key_env: str | None
    example_model: str | None
    browser_headers: dict[str, str] = field(default_factory=dict)
    help: str = ""

    @property
    def remote(self) -> bool:
        """Reached over HTTP with a key (not a model that runs in the tab)."""
        return self.base_url is not None

    def model_class(self) -> type:
        from . import models

        if self.class_name == "BrowserModel":
            from .models.browser import BrowserModel

            return BrowserModel
        return getattr(models, self.class_name)


def registry_text() -> str:
    """The registry file as it ships (the site build copies it verbatim)."""
    return resources.files(__package__).joinpath(REGISTRY_FILE).read_text(encoding="utf-8")


def _load() -> dict[str, ProviderInfo]:
    data: dict[str, Any] = json.loads(registry_text())
    return {name: ProviderInfo(name=name, label=item["label"], class_name=item["class"], base_url=item["baseUrl"],
                               key_env=item["keyEnv"], example_model=item["exampleModel"],
                               browser_headers=dict(item.get("browserHeaders") or {}), help=item.get("help", ""))
            for name, item in data.items()}


PROVIDERS: dict[str, ProviderInfo] = _load()
REMOTE_PROVIDERS = tuple(name for name, info in PROVIDERS.items() if info.remote)

__all__ = ["PROVIDERS", "REMOTE_PROVIDERS", "ProviderInfo", "registry_text"]
