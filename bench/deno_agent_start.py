"""Start-up of the agent in Deno (deno/agent.js): from the site's memory snapshots vs cold.

    python bench/deno_agent_start.py              # 5 rounds
    python bench/deno_agent_start.py --rounds 2

Builds two sites into .cache/site/ (with and without `--no-snapshot`, reused while current),
then, interleaved, runs the least-permission command `python -m wasm_agent deno` composes,
against the loopback mock provider scripted with one step (`final_answer(6 * 7)`). Per run:
"python" and "sandbox" are the runner's own progress stamps (seconds since Deno started),
"first step" is when the line of step 1 reached stdout, "exit" when the process ended
(both measured here, from the spawn). Prints medians (minima).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from build.site import CACHE, build_site, is_current  # noqa: E402
from providers.mock import MockProviderServer  # noqa: E402
from wasm_agent.deno_agent import agent_command  # noqa: E402
from wasm_agent.executor.sandbox import find_deno  # noqa: E402

STAMP = re.compile(r"\[(\d+\.\d) s\] (Python ready|Sandbox ready)")


def site(name: str, snapshot: bool) -> Path:
    out = CACHE / f"deno-start-{name}"
    if not is_current(out):
        build_site(out, snapshot=snapshot, log=lambda *_: None)
    return out


def measure(server: MockProviderServer, folder: Path) -> dict[str, float]:
    server.script("Thought: easy.\n<code>\nfinal_answer(6 * 7)\n</code>")
    command = agent_command(find_deno(), folder, "What is 6 * 7?", provider="openai", model="mock",
                            api_base=server.openai_base, key_env="BENCH_KEY")
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "BENCH_KEY": "k", "DENO_NO_UPDATE_CHECK": "1"})
    first_step = None
    for line in process.stdout:
        if first_step is None and line.startswith("── step 1"):
            first_step = time.perf_counter() - started
    errors = process.stderr.read()
    exit_code = process.wait()
    if exit_code != 0 or first_step is None:
        raise SystemExit(f"the run failed (exit {exit_code}):\n{errors}")
    stamps = {name.split()[0].lower(): float(value) for value, name in STAMP.findall(errors)}
    return {**stamps, "first step": first_step, "exit": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sites = {"snapshot": site("snapshot", True), "cold": site("cold", False)}
    results: dict[str, list[dict]] = {name: [] for name in sites}
    with MockProviderServer() as server:
        for _ in range(args.rounds):
            for name, folder in sites.items():
                results[name].append(measure(server, folder))
    columns = ["python", "sandbox", "first step", "exit"]
    print("| start | " + " | ".join(f"{column} (s)" for column in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, runs in results.items():
        cells = [f"{statistics.median(r[c] for r in runs):.2f} ({min(r[c] for r in runs):.2f})" for c in columns]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
