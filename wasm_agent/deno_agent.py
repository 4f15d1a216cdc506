"""The agent in Deno (deno/agent.js), started from CPython with the least permissions that work.

`python -m wasm_agent deno "task" --provider openai --model M --key-env OPENAI_API_KEY` builds the
site when it is stale and runs the command `agent_command` composes: Deno may read the site's
Pyodide folder, its snapshots and manifest, and our deno/ and web/ folders (plus tool files the
user names); connect to the model's host:port only; read the one environment variable that holds
the key; and nothing else (no writes, subprocesses, FFI, system information, remote imports).
The sandbox worker inside gets no permissions at all. With `--packages-url`, Deno may also
connect to that package distribution's host (or read its folder) and read the lock that pins it.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from . import resources
from .providers import PROVIDERS

RUNNER = resources.deno_dir() / "agent.js"
READ_FOLDERS = (resources.deno_dir(), resources.web_dir())
SITE_FILES = ("pyodide", "build.json", "providers.json", "agent.snapshot", "sandbox.snapshot")
DENIED = ("--deny-write", "--deny-run", "--deny-ffi", "--deny-sys", "--deny-import")
# No eval, no Function constructor in any isolate of the process (the agent's and its sandbox workers'):
# neither tools nor generated code can write JS of their own. Pyodide needs neither.
NO_CODE_FROM_STRINGS = "--v8-flags=--disallow-code-generation-from-strings"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class RunnerSetupError(ValueError):
    """The command cannot be composed; the message says what to change."""


def net_target(provider: str, api_base: str | None) -> str:
    """`host:port` of the model's server: an address Deno may connect to."""
    return host_port(api_base or PROVIDERS[provider].base_url, f"--api-base {api_base!r}")


def host_port(url: str, given_as: str) -> str:
    """`host:port` of an http(s) URL (the model's server, an MCP server's `--mcp URL`)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RunnerSetupError(f"{given_as} is not an http(s) URL")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def packages_source(url: str, lock: Path | None) -> tuple[str, Path, str | None, Path | None]:
    """(the URL agent.js fetches from, the lock file, the host:port Deno may connect to or None, the
    folder Deno may read or None) of a Pyodide package distribution given as an http(s) or file URL
    or a folder; without `lock`, the pinned Pyodide's own."""
    lock = Path(lock).resolve() if lock else resources.pyodide_dir() / "pyodide-lock.json"
    if not lock.is_file():
        raise RunnerSetupError(f"--packages-lock {lock}: no such file")
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return url.rstrip("/") + "/", lock, host_port(url, f"--packages-url {url!r}"), None
    if parts.scheme not in ("", "file"):
        raise RunnerSetupError(f"--packages-url {url!r} is not an http(s) or file URL, nor a folder")
    folder = Path(url2pathname(parts.path) if parts.scheme else url).resolve()
    if not folder.is_dir():
        raise RunnerSetupError(f"--packages-url {url!r}: no such folder")
    return folder.as_uri() + "/", lock, None, folder


def agent_command(deno_bin: str, site: Path, task: str, *, provider: str, model: str, api_base: str | None = None,
                  key_env: str | None = None, tools: tuple[Path, ...] = (), imports: tuple[str, ...] = (),
                  mcp: tuple[str, ...] = (), agent_type: str = "code", max_steps: int = 10,
                  timeout: float = 30, packages_url: str | None = None,
                  packages_lock: Path | None = None) -> list[str]:
    """The `deno run …` command line of the agent in Deno, with exactly the permissions it needs."""
    if key_env is not None and not ENV_NAME.match(key_env):
        raise RunnerSetupError(f"--key-env {key_env!r} is not an environment variable name")
    tool_files = [Path(path).resolve() for path in tools]
    for path in tool_files:
        if not path.is_file():
            raise RunnerSetupError(f"--tools {path}: no such file")
    reads = [*(str(site / name) for name in SITE_FILES), *map(str, READ_FOLDERS), *map(str, tool_files)]
    packages: list[str] = []
    distribution_host = None
    if packages_url is not None:
        url, lock, distribution_host, folder = packages_source(packages_url, packages_lock)
        reads += [str(lock), *([str(folder)] if folder else [])]
        packages = ["--packages-url", url, "--packages-lock", str(lock)]
    if any("," in path for path in reads):
        raise RunnerSetupError("a path with a comma cannot be given to Deno's --allow-read; move the files")
    hosts = dict.fromkeys([net_target(provider, api_base), *(host_port(url, f"--mcp {url!r}") for url in mcp),
                           *([distribution_host] if distribution_host else [])])
    permissions = [f"--allow-read={','.join(reads)}", f"--allow-net={','.join(hosts)}",
                   *([f"--allow-env={key_env}"] if key_env else []), *DENIED]
    arguments = ["--provider", provider, "--model", model, "--site", str(site), "--agent-type", agent_type,
                 "--max-steps", str(max_steps), "--timeout", str(timeout),
                 *(item for name in imports for item in ("--imports", name)),
                 *(item for url in mcp for item in ("--mcp", url)),
                 *(["--api-base", api_base] if api_base else []), *(["--key-env", key_env] if key_env else []),
                 *(item for path in tool_files for item in ("--tools", str(path))), *packages, "--", task]
    return [deno_bin, "run", "--quiet", "--no-prompt", "--no-config", "--no-lock", "--no-remote",
            "--unstable-worker-options", NO_CODE_FROM_STRINGS, *permissions, str(RUNNER), *arguments]
