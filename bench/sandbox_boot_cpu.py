"""CPU time a fresh sandbox interpreter costs its Deno process: boots from the memory snapshot, N in a row.

    python bench/sandbox_boot_cpu.py                 # 3 rounds of 10 resets
    python bench/sandbox_boot_cpu.py --boots 20 --rounds 5

A sandbox (DenoSandboxExecutor, no spare) runs a step; then each of N times `reset()` gives it a fresh
interpreter (a new worker booted from the snapshot) and a step runs there (checked: nothing of the earlier
run is left). The Deno process's CPU time (user + system, every thread's, from /proc) over those N is
compared with N steps that do not reset: the difference per reset is what a boot costs. Wall time is
printed too, but on a shared box CPU is the figure to compare. The worker's own phases (`ready.phases_ms`:
start = from the worker's creation to its boot message, import, load, setup) are medians over the boots.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (exited threads included)


async def measure(executor, boots: int, reset: bool) -> tuple[float, float, list[dict]]:
    """CPU and wall seconds per step (with a reset before each, or not), and the boots' phases."""
    await executor.run("leftover = 1")
    await asyncio.sleep(0.3)  # background work of the last boot (GC, compiler threads) settles
    pid = executor.pid
    cpu, wall, phases = cpu_seconds(pid), time.perf_counter(), []
    for _ in range(boots):
        if reset:
            await executor.reset()
        result = await executor.run("'leftover' in dir()")
        assert result.output is (not reset), result  # a fresh interpreter each time, or the figure means nothing
        await executor.run("leftover = 1")
        if reset:
            phases.append(executor.last_ready.get("phases_ms", {}))
    wall = time.perf_counter() - wall
    await asyncio.sleep(0.3)
    assert executor.pid == pid, "the sandbox process was replaced"
    return (cpu_seconds(pid) - cpu) / boots, wall / boots, phases


async def main(boots: int, rounds: int) -> None:
    sys.path.insert(0, str(REPO))
    from wasm_agent.executor.base import ExecutionLimits
    from wasm_agent.executor.sandbox import DenoSandboxExecutor

    executor = DenoSandboxExecutor(cache_dir=tempfile.mkdtemp(prefix="wasm-agent-boot-cpu-"),
                                   limits=ExecutionLimits(timeout_seconds=60))
    try:
        await executor.run("1")
        for _ in range(2):  # warm up: the snapshot is read, Deno's code cache is filled
            await executor.reset()
            await executor.run("1")
        per_boot, walls, all_phases = [], [], []
        for round_number in range(rounds):
            steps_cpu, _, _ = await measure(executor, boots, reset=False)
            resets_cpu, wall, phases = await measure(executor, boots, reset=True)
            per_boot.append(resets_cpu - steps_cpu)
            walls.append(wall)
            all_phases += phases
            print(f"round {round_number + 1}/{rounds}: {per_boot[-1] * 1e3:.0f} ms CPU per boot "
                  f"(steps alone {steps_cpu * 1e3:.1f} ms), {wall * 1e3:.0f} ms wall per reset and step", flush=True)
        print(f"CPU per fresh interpreter: median {statistics.median(per_boot) * 1e3:.0f} ms, "
              f"min {min(per_boot) * 1e3:.0f} ms ({rounds} rounds of {boots} boots)")
        print(f"wall per reset and step:   median {statistics.median(walls) * 1e3:.0f} ms")
        names = sorted({name for phases in all_phases for name in phases})
        print("worker phases (median ms):", ", ".join(
            f"{name} {statistics.median(p.get(name, 0) for p in all_phases):.0f}" for name in names))
    finally:
        await executor.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boots", type=int, default=10, help="resets per round (10)")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.boots, arguments.rounds))
