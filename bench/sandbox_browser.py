"""The browser sandbox in Chromium: code speed against smolagents 1.26.0, tool round trip
(Atomics vs JSPI), start-up (cold vs snapshot) and stopping an endless loop.

    python bench/sandbox_browser.py              # 3 rounds
    python bench/sandbox_browser.py --rounds 1   # quicker

One run, interleaved by round (this shared box has fast and slow phases, see
shared/BENCHMARKS.md). The pages are those of the e2e tests (tests/e2e/harness.py):
a loopback site with COOP/COEP ("isolated": SharedArrayBuffer + Atomics,
interrupt buffer) and one without ("plain": JSPI, restart on interrupt).
Times are taken inside the page or inside the sandbox, not through Playwright.

  cpu     `for i in range(200000): total += i*i` in the sandbox, vs plain `exec()`
          here and smolagents' LocalPythonExecutor (bench/.venv-smolagents, made by
          bench/setup.sh; left out when missing).
  tool    one call of a page tool from sandboxed code and back: a loop of 200
          calls minus the same loop without them, timed in Python inside the sandbox.
          Beside it, the floor it stands on: the median of 200 bare message round
          trips between the page and the sandbox's frame, which Chromium runs in a
          process of its own (a tool call crosses between the two processes twice).
  start   a new page's sandbox until `ready` (worker boot) and until the first
          result (page total: fetch of the files, iframe, boot): cold vs snapshot.
  stop    an endless loop: from `interrupt()` to the step's result.
  reset   a new run after code ran: `reset()` gives a fresh worker (the warm spare; no earlier
          code touched it) and the run's first step answers.

Every result is checked (the loop's total, the tool's answers), so a broken run
cannot look fast. Prints medians and minima, and ratios of medians.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [REPO, os.path.join(REPO, "tests", "e2e")]

from harness import (
    StaticSite,
    build_wheel,
    launch_chromium,
    make_snapshot,
    sandbox_site_mounts,
)

CPU_CODE = "total = 0\nfor i in range(200000): total += i*i\ntotal"
CPU_TOTAL = sum(i * i for i in range(200000))
TOOL_CALLS = 200
TOOL_CODE = f"""
import time
t0 = time.perf_counter()
for i in range({TOOL_CALLS}):
    assert add(i, 1) == i + 1
t1 = time.perf_counter()
for i in range({TOOL_CALLS}):
    assert (lambda a, b: a + b)(i, 1) == i + 1
t2 = time.perf_counter()
((t1 - t0) - (t2 - t1)) / {TOOL_CALLS} * 1000
"""


def _deno_bench():
    spec = importlib.util.spec_from_file_location("sandbox_deno", os.path.join(HERE, "sandbox_deno.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Page:
    def __init__(self, browser, site, wheel, snapshot=None, spare=True):
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.page.goto(f"{site.url}/test/sandbox.html")
        self.page.wait_for_function("window.sandboxTest !== undefined")
        options = {"wheel": f"/wheels/{wheel.name}", "spare": spare, "timeoutMs": 60_000}
        if snapshot is not None:
            options["snapshot"] = f"/snapshot/{snapshot.name}"
        started = time.perf_counter()
        self.info = self.page.evaluate("(options) => sandboxTest.start(options)", options)
        first = self.run("add(1, 2)")
        assert first["output"] == 3, first
        self.total_ms = (time.perf_counter() - started) * 1000

    def run(self, code):
        return self.page.evaluate("(code) => sandboxTest.run(code, {timeoutMs: 60000})", code)

    def close(self):
        self.context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    wheel, snapshot = build_wheel(), make_snapshot()
    sites = {mode: StaticSite(sandbox_site_mounts(wheel, snapshot), isolated=mode == "isolated")
             for mode in ("isolated", "plain")}
    deno_bench = _deno_bench()
    smolagents = os.path.exists(deno_bench.SMOLAGENTS_PYTHON)
    figures: dict[str, list[float]] = {}

    def add(name, values):
        figures.setdefault(name, []).extend(values if isinstance(values, list) else [values])

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        pages = {mode: Page(browser, sites[mode], wheel, snapshot) for mode in sites}
        pages["plain"].page.wait_for_timeout(5000)  # let the warm spares finish booting: they compete for the cores
        for round_number in range(args.rounds):
            print(f"round {round_number + 1}/{args.rounds}", flush=True)
            for _ in range(3):
                result = pages["isolated"].run(CPU_CODE)
                assert result["output"] == CPU_TOTAL, result
                add("cpu: sandbox (ms)", result["ms"])
            add("cpu: exec (ms)", [seconds * 1000 for seconds in deno_bench.exec_times(3)])
            if smolagents:
                add("cpu: smolagents LocalPythonExecutor (ms)", [s * 1000 for s in deno_bench.smolagents_times(2)])
            for mode, page in pages.items():
                for _ in range(3):
                    result = page.run(TOOL_CODE)
                    assert result["error"] is None, result
                    add(f"tool round trip: {page.info['ready']['bridge']} (ms)", result["output"])
                # The floor under a tool call: one message to the sandbox's frame (its own process) and back.
                times = sorted(page.page.evaluate("(n) => sandboxTest.pings(n)", 200))
                add(f"message round trip page <-> frame, {mode} (ms)", times[len(times) // 2])
            for mode, page in pages.items():
                page.page.wait_for_timeout(3000)  # the warm spare is ready (plain mode restarts to it)
                page.run("kept = 1")
                result = page.page.evaluate("() => sandboxTest.runAndInterrupt('while True:\\n    pass', 200)")
                assert result["error"].startswith("Execution stopped"), result
                how = "interrupt buffer" if mode == "isolated" else "restart to the warm spare"
                add(f"stop endless loop: {how} (ms)", result["stopMs"])
                assert page.run("add(2, 2)")["output"] == 4
            for mode, page in pages.items():
                for _ in range(2):  # a new run after code ran: reset() to a fresh worker, then its first step
                    page.page.wait_for_timeout(3000)  # the warm spare has booted again
                    page.run("leftover = 1")
                    result = page.page.evaluate("""async () => {
                        const t0 = performance.now();
                        await sandboxTest.client.reset();
                        const result = await sandboxTest.client.run("'leftover' in dir()");
                        return { ...result, ms: performance.now() - t0 };
                    }""")
                    assert result["output"] is False, result
                    add(f"reset per run: warm spare, {mode} (ms)", result["ms"])
            for kind, snap in (("cold", None), ("snapshot", snapshot)):
                if kind == "snapshot" and snapshot is None:
                    continue
                page = Page(browser, sites["isolated"], wheel, snap, spare=False)
                assert page.info["ready"]["snapshot"] is (snap is not None)
                add(f"start {kind}: worker boot to ready (ms)", page.info["ready"]["startup_ms"])
                add(f"start {kind}: page to first result (ms)", page.total_ms)
                page.close()
        browser.close()
    for site in sites.values():
        site.close()

    print(f"\n{'figure':58} {'median':>10} {'min':>10}  n")
    medians = {}
    for name, values in figures.items():
        medians[name] = statistics.median(values)
        print(f"{name:58} {medians[name]:10.3f} {min(values):10.3f}  {len(values)}")
    print()
    print(f"sandbox / exec (cpu, medians)                       {medians['cpu: sandbox (ms)'] / medians['cpu: exec (ms)']:.1f}x")
    if smolagents:
        ratio = medians["cpu: smolagents LocalPythonExecutor (ms)"] / medians["cpu: sandbox (ms)"]
        print(f"smolagents LocalPythonExecutor / sandbox (cpu)      {ratio:.1f}x faster")
    if "start snapshot: worker boot to ready (ms)" in medians:
        ratio = medians["start cold: worker boot to ready (ms)"] / medians["start snapshot: worker boot to ready (ms)"]
        print(f"cold / snapshot (worker boot)                       {ratio:.1f}x")
    jspi, atomics = medians.get("tool round trip: jspi (ms)"), medians.get("tool round trip: atomics (ms)")
    if jspi and atomics:
        print(f"tool round trip jspi / atomics                      {jspi / atomics:.1f}x")
    floor = medians.get("message round trip page <-> frame, isolated (ms)")
    if atomics and floor:
        print(f"tool round trip atomics / bare message round trip   {atomics / floor:.1f}x")


if __name__ == "__main__":
    main()
