"""Memory per sandbox when several share one Deno process (`SandboxHost`).

    python bench/sandbox_memory.py            # 1 and 8 sandboxes
    python bench/sandbox_memory.py --counts 1 4 8

For each count N: one `SandboxHost`, N `DenoSandboxExecutor`s on it (each its own
permissionless worker), every one checked with a real run (a tool call and a
result), then the process's resident memory (VmRSS of /proc/<pid>/status,
workers are threads of it) divided by N. Printed beside it: one sandbox in a
process of its own (the default executor), the figure the division is against.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def measure(count: int, settle: float) -> tuple[float, float]:
    """(process RSS, seconds until all `count` sandboxes answered) for `count` sandboxes in one host."""
    from sample_tools import add

    from wasm_agent.executor.sandbox import DenoSandboxExecutor, SandboxHost

    host = SandboxHost()
    executors = [DenoSandboxExecutor(host=host) for _ in range(count)]
    try:
        started = time.perf_counter()
        for executor in executors:
            await executor.send_tools({"add": add})
        results = await asyncio.gather(*(executor.run(f"add({index}, 1)") for index, executor in
                                         enumerate(executors)))
        elapsed = time.perf_counter() - started
        assert [result.output for result in results] == [index + 1 for index in range(count)], results
        await asyncio.sleep(settle)  # boot garbage collected, as in a sandbox that waits for its next step
        return rss_mib(host.pid), elapsed
    finally:
        for executor in executors:
            await executor.close()
        await host.aclose()


async def main(counts: list[int], settle: float) -> None:
    sys.path[:0] = [REPO, os.path.join(REPO, "tests", "unit")]
    for count in counts:
        rss, elapsed = await measure(count, settle)
        print(f"{count} sandbox(es) in one process: {rss:7.1f} MiB RSS, {rss / count:6.1f} MiB per sandbox "
              f"(all answered in {elapsed:.1f} s)", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to wait before reading RSS")
    options = parser.parse_args()
    asyncio.run(main(options.counts, options.settle))
