"""The Deno sandbox from CPython: code speed against smolagents 1.26.0, start-up, tool round trip.

    python bench/sandbox_deno.py              # 5 rounds
    python bench/sandbox_deno.py --rounds 2   # quicker

In one run, interleaved (this shared box has fast and slow phases, see
shared/BENCHMARKS.md), with the same code on every side:

  cpu        `for i in range(200000): total += i*i` in our sandbox
             (DenoSandboxExecutor.run), in plain `exec()` in this process, and
             in smolagents' LocalPythonExecutor (bench/.venv-smolagents, made by
             bench/setup.sh; the column is left out when it is missing).
  start      a new executor until its first result: cold (Pyodide booted from
             its files) vs from the cached memory snapshot.
  tool       one tool call from sandboxed code to a tool on the host and back,
             (a loop of 200 calls minus the same loop without them), per bridge.
  stop       an endless loop: from `interrupt()` to the step's result.
  reset      a new run after code ran: `reset()` gives a fresh sandbox (no earlier code touched it)
             and the run's first step answers; from the memory snapshot, and from a warm spare.

Every result is checked (the loop's total, the tool's answers), so a broken
run cannot look fast. Prints medians and minima, and ratios of medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SMOLAGENTS_PYTHON = os.path.join(HERE, ".venv-smolagents", "bin", "python")
CPU_CODE = "total = 0\nfor i in range(200000): total += i*i\ntotal"
CPU_TOTAL = sum(i * i for i in range(200000))
TOOL_CALLS = 200


def smolagents_worker(runs: int) -> None:
    """Run in smolagents' venv: time LocalPythonExecutor on CPU_CODE, print JSON seconds."""
    from smolagents.local_python_executor import LocalPythonExecutor

    executor = LocalPythonExecutor(additional_authorized_imports=[])
    executor.send_tools({})
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = executor(CPU_CODE)
        times.append(time.perf_counter() - started)
        assert result.output == CPU_TOTAL, result
    print(json.dumps(times))


def smolagents_times(runs: int) -> list[float]:
    out = subprocess.run([SMOLAGENTS_PYTHON, __file__, "--smolagents-worker", str(runs)], capture_output=True,
                         text=True, check=True, cwd=HERE)
    return json.loads(out.stdout.strip().splitlines()[-1])


def exec_times(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        namespace: dict = {}
        started = time.perf_counter()
        exec(CPU_CODE, namespace)  # noqa: S102 - the baseline is plain exec
        times.append(time.perf_counter() - started)
        assert namespace["total"] == CPU_TOTAL
    return times


async def sandbox_times(executor, code: str, runs: int, check=None) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await executor.run(code)
        times.append(time.perf_counter() - started)
        assert result.error is None and (check is None or check(result.output)), result
    return times


async def start_time(snapshot: bool, cache_dir: str) -> tuple[float, int]:
    from wasm_agent.executor.sandbox import DenoSandboxExecutor

    executor = DenoSandboxExecutor(snapshot=snapshot, cache_dir=cache_dir)
    try:
        started = time.perf_counter()
        result = await executor.run("6 * 7")
        elapsed = time.perf_counter() - started
        assert result.output == 42 and executor.last_ready["snapshot"] is snapshot, result
        return elapsed, executor.last_ready["startup_ms"]
    finally:
        await executor.close()


async def reset_times(executor, count: int, settle: float = 0.0) -> list[float]:
    """A new run after code ran: `reset()` (a fresh sandbox) and the run's first step, per run."""
    times = []
    for _ in range(count):
        await executor.run("leftover = 1")
        await asyncio.sleep(settle)  # a warm spare has booted again behind the serving sandbox
        started = time.perf_counter()
        await executor.reset()
        result = await executor.run("'leftover' in dir()")
        times.append(time.perf_counter() - started)
        assert result.output is False, result  # a fresh sandbox, or the figure means nothing
    return times


async def stop_time(executor) -> float:
    task = asyncio.ensure_future(executor.run("while True: pass"))
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    await executor.interrupt()
    result = await task
    assert result.error and "interrupted" in result.error, result
    return time.perf_counter() - started


def summary(name: str, times: list[float], unit: float = 1e3, suffix: str = "ms") -> str:
    return (f"{name:44} median {statistics.median(times) * unit:9.2f} {suffix}   "
            f"min {min(times) * unit:9.2f} {suffix}   (n={len(times)})")


async def main(rounds: int) -> None:
    sys.path[:0] = [REPO, os.path.join(REPO, "tests", "unit")]
    from sample_tools import add  # the tests' add tool

    from wasm_agent.executor.base import ExecutionLimits
    from wasm_agent.executor.sandbox import DenoSandboxExecutor

    with_smolagents = os.path.exists(SMOLAGENTS_PYTHON)
    if not with_smolagents:
        print("bench/.venv-smolagents is missing (run bench/setup.sh): the smolagents column is left out")
    cache_dir = tempfile.mkdtemp(prefix="wasm-agent-bench-")
    figures: dict[str, list[float]] = {}

    def add_figures(name: str, values: list[float]) -> None:
        figures.setdefault(name, []).extend(values)

    executors = {bridge: DenoSandboxExecutor(bridge=bridge, cache_dir=cache_dir,
                                             limits=ExecutionLimits(timeout_seconds=60))
                 for bridge in ("atomics", "jspi")}
    executors["spare"] = DenoSandboxExecutor(spare=True, cache_dir=cache_dir, limits=ExecutionLimits(timeout_seconds=60))
    for executor in executors.values():
        await executor.send_tools({"add": add})
        await executor.run("1")
    tool_loop = f"s = 0\nfor i in range({TOOL_CALLS}): s += add(i, 1)\ns"
    bare_loop = f"s = 0\nfor i in range({TOOL_CALLS}): s += i + 1\ns"
    expected = sum(i + 1 for i in range(TOOL_CALLS))
    for round_number in range(rounds):
        print(f"round {round_number + 1}/{rounds}", flush=True)
        add_figures("cpu: sandbox", await sandbox_times(executors["atomics"], CPU_CODE, 5, CPU_TOTAL.__eq__))
        add_figures("cpu: exec", exec_times(5))
        if with_smolagents:
            add_figures("cpu: smolagents LocalPythonExecutor", smolagents_times(3))
        for snapshot in (False, True):
            elapsed, startup_ms = await start_time(snapshot, cache_dir)
            label = "snapshot" if snapshot else "cold"
            add_figures(f"start: {label}, new executor to first result", [elapsed])
            add_figures(f"start: {label}, worker boot (ready.startup_ms)", [startup_ms / 1e3])
        for bridge in ("atomics", "jspi"):
            executor = executors[bridge]
            with_tools = await sandbox_times(executor, tool_loop, 3, expected.__eq__)
            without = await sandbox_times(executor, bare_loop, 3, expected.__eq__)
            add_figures(f"tool round trip: {bridge}",
                        [(a - b) / TOOL_CALLS for a, b in zip(with_tools, without)])
        add_figures("run of `1` (warm call)", await sandbox_times(executors["atomics"], "1", 20))
        add_figures("stop an endless loop (interrupt buffer)", [await stop_time(executors["atomics"])])
        add_figures("reset per run: from the snapshot", await reset_times(executors["atomics"], 3))
        add_figures("reset per run: the warm spare", await reset_times(executors["spare"], 3, settle=3.0))
    for executor in executors.values():
        await executor.close()

    print()
    for name, values in figures.items():
        print(summary(name, values))
    median = {name: statistics.median(values) for name, values in figures.items()}
    print()
    print(f"sandbox / exec (cpu, medians)                {median['cpu: sandbox'] / median['cpu: exec']:.1f}x")
    if with_smolagents:
        print(f"smolagents / sandbox (cpu, medians)          "
              f"{median['cpu: smolagents LocalPythonExecutor'] / median['cpu: sandbox']:.1f}x faster")
    cold, warm = (median[f"start: {k}, new executor to first result"] for k in ("cold", "snapshot"))
    print(f"cold / snapshot start (medians)              {cold / warm:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smolagents-worker", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.smolagents_worker:
        smolagents_worker(options.smolagents_worker)
    else:
        asyncio.run(main(options.rounds))
