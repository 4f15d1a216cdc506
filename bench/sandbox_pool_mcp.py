"""mcp-run-python (Pyodide in Deno, one MCP server process per sandbox) as an engine of sandbox_pool.py.

Used where bench/.venv-mcp-run-python exists (bench/README.md has the install line). Runs in that venv:

    python bench/sandbox_pool_mcp.py prepare DENO                  # -> {"env": DIR} or {"error": WHY}
    python bench/sandbox_pool_mcp.py DENO ENV memory|start|throughput ROUNDS RUNS LEVELS...

As shipped, mcp-run-python cannot start on a machine that reaches only the package registries:
its Deno config imports `jsr:@std/cli` (jsr.io) and its Pyodide (npm:pyodide@0.28.2) loads micropip and
pydantic from cdn.jsdelivr.net, for which no registry has a build (PyPI's pydantic-core wasm wheels are
for Pyodide 314 only). `prepare` makes a copy of its Deno server that runs offline: parse-args from npm's
minimist, the npm Pyodide this repository uses (314.x), and micropip, pydantic and their dependencies
from PyPI, written into that Pyodide's lock. Their server code, transport and Deno flags are unchanged;
each sandbox is their `deno run … stdio` process driven by their `CodeSandbox` over an MCP session.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = HERE / ".venv-mcp-run-python" / "bin" / "python"
CACHE = REPO / ".cache" / "mcp-run-python"
PARSE_ARGS = HERE / "mcp_run_python_parse_args.ts"
# The Pyodide packages their server loads at boot (pydantic pinned to a release whose pydantic-core has a
# wasm wheel on PyPI for Pyodide 314; micropip to the version of Pyodide's own lock).
WHEELS = ("micropip==0.11.1", "pydantic==2.14.4")
# A task's code as their tool takes it: the value of the last line is the result (no final_answer);
# state does not persist between calls, so step 2 gets step 1's value as a global variable.
ONE_STEP = "6 * 7"
STEPS = ("x = 6 * 7\nprint(x)\nx", "x")


# -- in the bench's own process ---------------------------------------------------------------
def measure(deno: str, env_dir: str, section: str, rounds: int, runs: int, levels: list[int]) -> object:
    """Figures of one section from a worker in the mcp-run-python venv."""
    process = subprocess.run([str(PYTHON), str(Path(__file__)), deno, env_dir, section, str(rounds), str(runs),
                              *map(str, levels)], capture_output=True, text=True, cwd=HERE, check=False)
    if process.returncode != 0:
        raise SystemExit(f"mcp-run-python worker failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def prepare_or_reason(deno: str | None) -> tuple[str | None, str]:
    """(env dir, "") when mcp-run-python can be measured, else (None, why not)."""
    if not PYTHON.exists():
        return None, f"not installed ({PYTHON.parent.parent.relative_to(REPO)} absent, see bench/README.md)"
    if not deno:
        return None, "no deno binary"
    process = subprocess.run([str(PYTHON), str(Path(__file__)), "prepare", deno], capture_output=True, text=True,
                             cwd=HERE, check=False)
    lines = process.stdout.strip().splitlines()
    answer = json.loads(lines[-1]) if lines else {"error": process.stderr.strip()[-500:] or "no answer"}
    return answer.get("env"), answer.get("error", "")


# -- in the mcp-run-python venv ---------------------------------------------------------------
def deno_env() -> dict[str, str]:
    return {**os.environ, "DENO_NO_UPDATE_CHECK": "1"}


def run_deno(deno: str, env_dir: Path, args: list[str]) -> None:
    process = subprocess.run([deno, *args], cwd=env_dir, env=deno_env(), capture_output=True, text=True, check=False)
    if process.returncode != 0:
        raise RuntimeError(f"`deno {' '.join(args)}` failed: {process.stdout[-800:]} {process.stderr[-800:]}")
    if "|Failed to load" in process.stderr or "error|" in process.stderr:
        raise RuntimeError(f"their dependency install failed: {process.stderr[-800:]}")


def prepare(deno: str) -> Path:
    """Their Deno server, made runnable offline, under .cache/ (made once per version of each part)."""
    import mcp_run_python
    from mcp_run_python.main import _deno_install_args

    source = Path(mcp_run_python.__file__).parent / "deno"
    pyodide_version = json.loads((REPO / "node_modules" / "pyodide" / "package.json").read_text())["version"]
    key = hashlib.sha256(json.dumps([mcp_run_python.__version__, pyodide_version, WHEELS, deno,
                                     PARSE_ARGS.read_text()]).encode()).hexdigest()[:16]
    env_dir = CACHE / key
    if (env_dir / "ready").exists():
        return env_dir
    shutil.rmtree(env_dir, ignore_errors=True)
    shutil.copytree(source, env_dir, ignore=shutil.ignore_patterns("node_modules"))
    shutil.copy(PARSE_ARGS, env_dir / "src" / "parse_args_npm.ts")
    config = json.loads((env_dir / "deno.jsonc").read_text())  # JSON despite its name (else: the reason is printed)
    imports = config["imports"]
    imports.pop("@std/path", None)  # declared, imported nowhere
    imports.pop("@std/cli")
    imports["@std/cli/parse-args"] = "./src/parse_args_npm.ts"
    imports["pyodide"] = f"npm:pyodide@{pyodide_version}"
    (env_dir / "deno.jsonc").write_text(json.dumps(config, indent=2))
    # Their install pass fetches the npm packages into node_modules; its Pyodide packages fail (no CDN).
    pyodide_dir = env_dir / "node_modules" / ".deno" / f"pyodide@{pyodide_version}" / "node_modules" / "pyodide"
    try:
        run_deno(deno, env_dir, _deno_install_args())
    except RuntimeError:
        if not (pyodide_dir / "pyodide-lock.json").exists():
            raise
    add_wheels_to_lock(pyodide_dir)
    run_deno(deno, env_dir, _deno_install_args())  # every package local now: fails if one is missing
    (env_dir / "ready").write_text("")
    return env_dir


def add_wheels_to_lock(pyodide_dir: Path) -> None:
    """Download WHEELS (and dependencies) for that Pyodide from PyPI; point its lock's entries at them."""
    lock_path = pyodide_dir / "pyodide-lock.json"
    lock = json.loads(lock_path.read_text())
    python = ".".join(lock["info"]["python"].split(".")[:2])
    platform = f"pyemscripten_{lock['info']['abi_version']}_{lock['info']['arch']}"
    with tempfile.TemporaryDirectory() as wheels:
        pip = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                              "--python-version", python, "--implementation", "cp", "--abi",
                              f"cp{python.replace('.', '')}", "--platform", platform, "-d", wheels, *WHEELS],
                             capture_output=True, text=True, check=False)
        if pip.returncode:
            raise RuntimeError(f"no wheels for {platform} from PyPI: {pip.stderr.strip().splitlines()[-1:]}")
        names = {name.lower().replace("_", "-"): name for name in lock["packages"]}
        for wheel in sorted(Path(wheels).glob("*.whl")):
            name, version = wheel.name.split("-")[:2]
            entry = lock["packages"][names[name.lower().replace("_", "-")]]
            shutil.copy(wheel, pyodide_dir / wheel.name)
            entry.update(file_name=wheel.name, version=version, sha256=hashlib.sha256(wheel.read_bytes()).hexdigest())
    # Deno hard-links node_modules to its global cache: replace the file, never write through the link.
    fresh = lock_path.with_suffix(".new")
    fresh.write_text(json.dumps(lock))
    os.replace(fresh, lock_path)


@contextlib.asynccontextmanager
async def sandbox(deno: str, env_dir: str):
    """One of their sandboxes: a `deno … stdio` server (no network for the code) and its MCP session."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client
    from mcp_run_python.code_sandbox import CodeSandbox
    from mcp_run_python.main import _deno_run_args

    server = StdioServerParameters(command=deno, cwd=env_dir, env=deno_env(),
                                   args=_deno_run_args("stdio", return_mode="json", allow_networking=False))
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield CodeSandbox(session)


async def checked(box, code: str, globals_: dict | None = None) -> int:
    result = await box.eval(code, globals_)
    assert result["status"] == "success" and result["return_value"] == 42, result
    return result["return_value"]


async def run_steps(box) -> None:
    await checked(box, STEPS[1], {"x": await checked(box, STEPS[0])})


async def memory_section(deno: str, env_dir: str) -> list[dict]:
    from sandbox_pool import deno_children

    rows = []
    for n in (1, 8):
        async with contextlib.AsyncExitStack() as stack:
            boxes = [await stack.enter_async_context(sandbox(deno, env_dir)) for _ in range(n)]
            await asyncio.gather(*(checked(box, ONE_STEP) for box in boxes))
            await asyncio.sleep(1.0)  # as for ours: let the processes settle after their boot
            rss = deno_children()
            rows.append({"sandboxes": n, "processes": len(rss), "rss_mib_per_sandbox": sum(rss.values()) / 1024 / n,
                         "rss_mib_total": sum(rss.values()) / 1024})
    return rows


async def start_section(deno: str, env_dir: str, rounds: int) -> dict[str, list[float]]:
    cold, warm = [], []
    async with sandbox(deno, env_dir) as warm_box:
        await checked(warm_box, ONE_STEP)  # boots its Pyodide
        for _ in range(rounds):
            started = time.perf_counter()
            async with sandbox(deno, env_dir) as box:
                await checked(box, ONE_STEP)
                cold.append(time.perf_counter() - started)
            started = time.perf_counter()
            await checked(warm_box, ONE_STEP)
            warm.append(time.perf_counter() - started)
    return {"cold": cold, "warm": warm}


async def throughput_section(deno: str, env_dir: str, runs: int, levels: list[int]) -> dict[str, dict[int, float]]:
    """Runs per second on `level` booted servers reused run after run, and with a new server per run
    (a fresh interpreter per run, as ours gives: their `code_sandbox()` per task, less its set-up)."""
    rates = {"reused": {}, "fresh": {}}
    for level in levels:
        async with contextlib.AsyncExitStack() as stack:
            idle: asyncio.Queue = asyncio.Queue()
            for _ in range(level):
                box = await stack.enter_async_context(sandbox(deno, env_dir))
                await checked(box, ONE_STEP)  # every sandbox booted once
                idle.put_nowait(box)

            async def on_reused():
                box = await idle.get()
                try:
                    await run_steps(box)
                finally:
                    idle.put_nowait(box)

            rates["reused"][level] = await runs_per_second(on_reused, runs)
        gate = asyncio.Semaphore(level)

        async def on_fresh():
            async with gate, sandbox(deno, env_dir) as box:
                await run_steps(box)

        rates["fresh"][level] = await runs_per_second(on_fresh, runs)
    return rates


async def runs_per_second(run, runs: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(run() for _ in range(runs)))
    return runs / (time.perf_counter() - started)


def main(argv: list[str]) -> None:
    if argv[0] == "prepare":
        try:
            print(json.dumps({"env": str(prepare(argv[1]))}))
        except Exception as error:  # the bench prints why and goes on without this engine
            print(json.dumps({"error": f"{type(error).__name__}: {str(error).strip()[-600:]}"}))
        return
    deno, env_dir, section, rounds, runs, *levels = argv
    if section == "memory":
        result = asyncio.run(memory_section(deno, env_dir))
    elif section == "start":
        result = asyncio.run(start_section(deno, env_dir, int(rounds)))
    else:
        result = asyncio.run(throughput_section(deno, env_dir, int(runs), [int(level) for level in levels]))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
