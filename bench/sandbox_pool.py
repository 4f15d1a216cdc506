"""Sandboxes at scale on CPython: the pool against smolagents 1.26.0's LocalPythonExecutor, in one run
(and mcp-run-python where bench/.venv-mcp-run-python is installed: bench/sandbox_pool_mcp.py).

    python bench/sandbox_pool.py              # every section
    python bench/sandbox_pool.py --quick      # fewer rounds
    python bench/sandbox_pool.py --ours-only  # no smolagents venv (bench/setup.sh makes it), no mcp-run-python

Sections (every answer is checked, so a broken run cannot look fast):
  memory     RSS of the sandbox processes (from /proc) divided by the sandboxes, with 1 and 8
             warm sandboxes (each has run a step), 1, 4 and 8 (the default) per Deno process.
  start      a new agent's first result (a one-step task): cold pool (no sandbox yet) and warm
             pool (a fresh sandbox waits); smolagents: a new CodeAgent in a warm process.
  throughput runs per second of new agents (two steps each) at 1, 4 and 8 at once: ours as
             `asyncio.gather` of `arun` on a pool of that many sandboxes, smolagents as threads.
  web        the per-request web app (examples/async_agent: a new agent per request) served by
             uvicorn, ours and smolagents' (their example, a thread per agent), each warmed up (3
             requests, 3 s of quiet), alternated between the two: latency one at a time back to
             back, in blocks of 10 requests to one side (the fresh interpreter of each run, about
             0.1-0.15 s of CPU, cannot keep up: this shows throughput), one at a time 0.5 s apart
             (alternated request by request; fresh interpreters booted between requests, as when
             real model calls take seconds), and 8 at once.
The model is scripted on both sides (no network); medians and minima, ratios of medians.
mcp-run-python, in memory, start and throughput, is an executor with no agent loop: the task's code
goes straight to its `run_python_code` tool (bench/sandbox_pool_mcp.py says what it takes to start here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import sandbox_pool_mcp

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SMOLAGENTS_PYTHON = HERE / ".venv-smolagents" / "bin" / "python"
STEPS = ["Thought: compute.\n<code>\nx = 6 * 7\nprint(x)\n</code>", "Thought: done.\n<code>\nfinal_answer(x)\n</code>"]
ONE_STEP = ["Thought: done.\n<code>\nfinal_answer(6 * 7)\n</code>"]
BACK_TO_BACK_BLOCK = 10  # requests in a row to one side before the other's turn (web section)


# -- ours ----------------------------------------------------------------------------------
def our_agent(pool, responses):
    from wasm_agent import CodeAgent, ScriptedModel
    from wasm_agent.executor.pooled_executor import PooledSandboxExecutor

    return CodeAgent([], ScriptedModel(list(responses)), executor=PooledSandboxExecutor(pool=pool), verbosity_level=-1)


def new_pool(**settings):
    from wasm_agent.executor.pool import PoolSettings, SandboxPool

    return SandboxPool(PoolSettings(**{"idle_seconds": 600, "spares": 0, **settings}))


async def run_checked(pool, responses) -> float:
    """Seconds from making a new agent to its answer (checked), closing it after."""
    started = time.perf_counter()
    async with our_agent(pool, responses) as agent:
        result = await agent.arun("What is 6 times 7?")
        elapsed = time.perf_counter() - started
    assert result == 42, result
    return elapsed


def wait_idle(pool, seconds=60.0) -> None:
    deadline = time.monotonic() + seconds
    while pool.stats()["busy"] and time.monotonic() < deadline:
        time.sleep(0.02)


def deno_children() -> dict[int, int]:
    """{pid: RSS in KiB} of this process's `deno` children."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if stat[stat.index("(") + 1:stat.rindex(")")] != "deno" or \
                    int(stat[stat.rindex(")") + 2:].split()[1]) != os.getpid():
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        found[int(entry.name)] = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
    return found


def memory_section(layouts=((1, 1), (8, 1), (8, 4), (8, 8))) -> list[dict]:
    """Per (sandboxes, sandboxes per process)."""
    rows = []
    for n, per_process in layouts:
        pool = new_pool(max_workers=n, sandboxes_per_process=per_process)
        before = set(deno_children())

        async def warm():
            return await asyncio.gather(*(run_checked(pool, ONE_STEP) for _ in range(n)))

        asyncio.run(warm())
        wait_idle(pool)
        time.sleep(1.0)  # let the processes settle after their boot
        mine = {pid: rss for pid, rss in deno_children().items() if pid not in before}
        rows.append({"sandboxes": len(pool.sandboxes), "processes": len(mine),
                     "rss_mib_per_sandbox": sum(mine.values()) / 1024 / max(len(pool.sandboxes), 1),
                     "rss_mib_total": sum(mine.values()) / 1024})
        pool.shutdown()
    return rows


def start_section(rounds: int) -> dict[str, list[float]]:
    cold, warm = [], []
    warm_pool = new_pool(max_workers=2, spares=1)
    asyncio.run(run_checked(warm_pool, ONE_STEP))  # boots the pool's first sandbox and a spare
    for _ in range(rounds):
        pool = new_pool(max_workers=1)
        cold.append(asyncio.run(run_checked(pool, ONE_STEP)))
        pool.shutdown()
        wait_idle(warm_pool)
        warm.append(asyncio.run(run_checked(warm_pool, ONE_STEP)))
    warm_pool.shutdown()
    return {"cold": cold, "warm": warm}


def throughput_section(levels, runs_per_level: int) -> dict[int, float]:
    result = {}
    for level in levels:
        pool = new_pool(max_workers=level, spares=0)

        async def batch(count):
            gate = asyncio.Semaphore(level)

            async def one():
                async with gate:
                    return await run_checked(pool, STEPS)

            return await asyncio.gather(*(one() for _ in range(count)))

        asyncio.run(batch(level))  # every sandbox booted once
        wait_idle(pool)
        started = time.perf_counter()
        asyncio.run(batch(runs_per_level))
        result[level] = runs_per_level / (time.perf_counter() - started)
        pool.shutdown()
    return result


# -- smolagents (runs in bench/.venv-smolagents) ----------------------------------------------
def smolagents_agent_factory():
    from smolagents import ChatMessage, CodeAgent, Model
    from smolagents.models import MessageRole, remove_content_after_stop_sequences
    from smolagents.monitoring import TokenUsage

    class ScriptedSmolModel(Model):
        def __init__(self, responses):
            super().__init__(model_id="scripted")
            self.responses, self.calls = list(responses), 0

        def generate(self, messages, stop_sequences=None, **kwargs):
            self.calls += 1
            text = remove_content_after_stop_sequences(self.responses[self.calls - 1], stop_sequences)
            return ChatMessage(role=MessageRole.ASSISTANT, content=text, token_usage=TokenUsage(10, 5))

    return lambda responses: CodeAgent(tools=[], model=ScriptedSmolModel(responses), verbosity_level=-1)


def smolagents_worker(what: str, rounds: int, levels: list[int], runs_per_level: int) -> None:
    import concurrent.futures

    make = smolagents_agent_factory()

    def checked(responses) -> float:
        started = time.perf_counter()
        result = make(responses).run("What is 6 times 7?")
        assert result == 42, result
        return time.perf_counter() - started

    checked(ONE_STEP)  # the first agent of the process pays for lazy imports
    if what == "start":
        print(json.dumps([checked(ONE_STEP) for _ in range(rounds)]))
        return
    rates = {}
    for level in levels:
        with concurrent.futures.ThreadPoolExecutor(level) as threads:
            started = time.perf_counter()
            list(threads.map(lambda _: checked(STEPS), range(runs_per_level)))
            rates[level] = runs_per_level / (time.perf_counter() - started)
    print(json.dumps(rates))


def smolagents_measure(*args: str) -> object:
    process = subprocess.run([str(SMOLAGENTS_PYTHON), str(Path(__file__)), "--worker", *args],
                             capture_output=True, text=True, cwd=HERE, check=False)
    if process.returncode != 0:
        raise SystemExit(f"smolagents worker failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


# -- the web app ---------------------------------------------------------------------------
def serve(side: str, port: int) -> None:
    """Serve the per-request web app on 127.0.0.1:port with a scripted model."""
    import uvicorn

    if side == "ours":
        sys.path.insert(0, str(REPO / "examples" / "async_agent"))
        from app import create_app

        from wasm_agent import ScriptedModel

        app = create_app(lambda: ScriptedModel(list(ONE_STEP)))
    else:  # smolagents' examples/async_agent/main.py, with the scripted model
        import anyio.to_thread
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        make = smolagents_agent_factory()

        async def run_agent(request):
            task = (await request.json()).get("task")
            result = await anyio.to_thread.run_sync(make(ONE_STEP).run, task)
            return JSONResponse({"result": result})

        app = Starlette(routes=[Route("/run-agent", run_agent, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def start_server(python: str, side: str) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([python, str(Path(__file__)), "--serve", side, str(port)], cwd=HERE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            ask(port)
            return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the {side} web app did not start")


def ask(port: int) -> float:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/run-agent", method="POST",
                                     data=b'{"task": "What is 6 times 7?"}', headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.load(response)
    assert answer == {"result": 42}, answer
    return time.perf_counter() - started


def burst(port: int, count: int) -> float:
    """Median latency of `count` requests sent at once."""
    times = [0.0] * count
    threads = [threading.Thread(target=lambda i=i: times.__setitem__(i, ask(port))) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statistics.median(times)


def ensure_web_packages(python: str) -> None:
    if subprocess.run([python, "-c", "import starlette, uvicorn, anyio"], capture_output=True).returncode:
        subprocess.run([python, "-m", "pip", "install", "-q", "starlette", "uvicorn", "anyio"], check=True,
                       stderr=subprocess.DEVNULL)


def web_section(rounds: int, both: bool) -> dict[str, dict[str, list[float]]]:
    servers = {"ours": start_server(sys.executable, "ours")}
    if both:
        ensure_web_packages(str(SMOLAGENTS_PYTHON))
        servers["smolagents"] = start_server(str(SMOLAGENTS_PYTHON), "smolagents")
    try:
        # Steady state, as in a server that has been up a while: its first requests and the process's own
        # start-up work (Deno's background compiles of Pyodide) are not what each request costs.
        for _, port in servers.values():
            for _ in range(3):
                ask(port)
        time.sleep(3.0)
        figures = {side: {"one": [], "paced": [], "burst8": []} for side in servers}
        # Back to back in blocks, alternated: one request of each in turn would give each side's background
        # work (our sandboxes' boots) the other's request time, and slow the other with it.
        for _ in range(max(2, rounds // 3)):
            for side, (_, port) in servers.items():
                figures[side]["one"].extend(ask(port) for _ in range(BACK_TO_BACK_BLOCK))
        for _ in range(rounds):
            for side, (_, port) in servers.items():
                time.sleep(0.5)
                figures[side]["paced"].append(ask(port))
        for _ in range(max(2, rounds // 5)):
            for side, (_, port) in servers.items():
                figures[side]["burst8"].append(burst(port, 8))
        return figures
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(10)


def mcp_engine(rounds: int, runs: int, levels: list[int]):
    """A function giving mcp-run-python's figures of a section, or None (saying why in one line)."""
    from wasm_agent.executor.sandbox_host import find_deno

    deno = find_deno()
    env_dir, why_not = sandbox_pool_mcp.prepare_or_reason(deno)
    if not env_dir:
        print(f"mcp-run-python: not measured: {why_not}")
        return None
    return lambda section: sandbox_pool_mcp.measure(deno, env_dir, section, rounds, runs, levels)


# -- report --------------------------------------------------------------------------------
def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:8.1f} ms (min {min(values) * 1e3:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--ours-only", action="store_true")
    parser.add_argument("--sections", default="memory,start,throughput,web")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve[0], int(args.serve[1]))
    rounds, levels, runs = (3, [1, 4], 8) if args.quick else (7, [1, 4, 8], 24)
    if args.worker:
        what, n, per = args.worker[0], int(args.worker[1]), int(args.worker[2])
        return smolagents_worker(what, n, [int(x) for x in args.worker[3:]], per)
    both = not args.ours_only
    if both and not SMOLAGENTS_PYTHON.exists():
        subprocess.run(["bash", str(HERE / "setup.sh")], check=True, env={**os.environ, "PYTHON": sys.executable})
    sections = args.sections.split(",")
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    mcp = mcp_engine(rounds, runs, levels) if both and {"memory", "start", "throughput"} & set(sections) else None
    if "memory" in sections:
        print("\nmemory (warm sandboxes, RSS of their processes)")
        for label, rows in (("", memory_section()), ("mcp-run-python, ", mcp("memory") if mcp else [])):
            for row in rows:
                print(f"  {label}{row['sandboxes']} sandbox(es) in {row['processes']} process(es): "
                      f"{row['rss_mib_per_sandbox']:.0f} MiB per sandbox ({row['rss_mib_total']:.0f} MiB in all)")
    if "start" in sections:
        figures = start_section(rounds)
        print("\nfirst result of a new agent (one step)")
        print(f"  ours, cold pool   {ms(figures['cold'])}")
        print(f"  ours, warm pool   {ms(figures['warm'])}")
        if both:
            theirs = smolagents_measure("start", str(rounds), "0")
            print(f"  smolagents        {ms(theirs)}   warm pool / smolagents: "
                  f"{statistics.median(figures['warm']) / statistics.median(theirs):.1f}x")
        if mcp:
            theirs = mcp("start")
            print(f"  mcp-run-python, new server    {ms(theirs['cold'])}   it / our cold pool: "
                  f"{statistics.median(theirs['cold']) / statistics.median(figures['cold']):.1f}x")
            print(f"  mcp-run-python, booted server {ms(theirs['warm'])}   (its one interpreter runs every task)")
    if "throughput" in sections:
        ours = throughput_section(levels, runs)
        theirs = smolagents_measure("throughput", "0", str(runs), *map(str, levels)) if both else {}
        mcp_rates = mcp("throughput") if mcp else {}
        print(f"\nruns per second (new agent per run, two steps, {runs} runs per level)")
        for level in levels:
            line = f"  {level} at once: ours {ours[level]:6.1f}/s"
            if both:
                line += f"   smolagents {theirs[str(level)]:6.1f}/s   ratio {theirs[str(level)] / ours[level]:.1f}x"
            if mcp_rates:
                line += (f"   mcp-run-python: new server per run {mcp_rates['fresh'][str(level)]:5.2f}/s, "
                         f"servers reused {mcp_rates['reused'][str(level)]:6.1f}/s")
            print(line)
    if "web" in sections:
        figures = web_section(rounds * 3, both)
        print("\nweb app, a new agent per request (uvicorn, loopback)")
        for side, values in figures.items():
            print(f"  {side:<11} back to back {ms(values['one'])}   0.5 s apart {ms(values['paced'])}   "
                  f"8 at once {ms(values['burst8'])}")
        if both:
            for kind in ("one", "paced", "burst8"):
                ratio = statistics.median(figures["ours"][kind]) / statistics.median(figures["smolagents"][kind])
                print(f"  ours / smolagents ({kind}): {ratio:.1f}x")


if __name__ == "__main__":
    main()
