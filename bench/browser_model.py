"""The in-browser model in Chromium: prompt and decode tokens/s, time to first token, 1 vs 2 threads.

    python build/browser_model.py --fetch-only    # the default weights, once
    python bench/browser_model.py                 # 3 modes x 2 rounds, table at the end (a few minutes)
    python bench/browser_model.py --rounds 1 --decode 32

Model: the default SmolLM2-135M-Instruct Q4_1 through web/browser-model.js
(wllama 3.13, CPU), served from a loopback site laid out like dist/.

Modes, each in a fresh browser context (weights from the loopback site, then OPFS):
  default     page with COOP/COEP (cross-origin isolated), defaultThreads() there
  1/2/4 thr.  the same isolated page, nThreads given (4 only on a machine with 4 cores or more)
  plain       page without COOP/COEP: no SharedArrayBuffer, so one thread

Per round, with temperature 0:
  step 1  the CodeAgent's real first prompt (small prompt, few-shot turns, a task),
          its system line made unique per round so nothing is in the KV cache;
          `--decode` tokens generated with EOS ignored, so every mode decodes as much.
  step 2  step 1's messages + its answer + an observation, as the agent's next
          step sends them: only the new tokens should be processed (KV cache).
With `--tasks`, it also runs a CodeAgent (small prompt, in-process executor in
the page's Pyodide) on a few simple tasks and counts well-formed first answers,
correct answers and steps: what the default model can and cannot do.
Figures are llama.cpp's own timings (prompt_per_second, predicted_per_second),
and time to first token measured in the page. Medians over rounds; this box is
shared, so the load average is printed with the table. Nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from browser_model_site import (
    ModelSite,
    build_model_files,
    build_wheel,
    launch_chromium,
    site_mounts,
)

from wasm_agent import CodeAgent, ScriptedModel
from wasm_agent.memory import TaskStep
from wasm_agent.models.browser import _turn

# The isolated default is defaultThreads() of web/browser-model.js: the cores less one (all of 1-2 cores).
MODES = [("default threads", True, None), ("1 thread", True, 1), ("2 threads", True, 2), ("plain", False, None)]
if (os.cpu_count() or 1) >= 4:
    MODES.insert(3, ("4 threads", True, 4))
TASK = "What is the sum of the squares of the numbers from 1 to 10?"
OBSERVATION = "Observation:\nExecution logs:\n385\nLast output from code snippet:\nNone"


def first_step_messages(round_number: int) -> list[dict]:
    """The CodeAgent's first prompt with the small variant (what the agent really sends)."""
    model = ScriptedModel([])
    model.prompt_variant = "small"
    agent = CodeAgent([], model, executor_type="inprocess")
    agent.memory.steps.append(TaskStep(task=TASK))
    messages = [_turn(m) for m in agent.write_memory_to_messages()]
    messages[0]["content"] = f"(session {round_number}) " + messages[0]["content"]  # a cold KV cache each round
    return messages


def measure(browser, site: ModelSite, n_threads: int | None, rounds: int, decode: int) -> dict:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{site.url}/test/browser-model.html")
        page.wait_for_function("window.modelTest !== undefined")
        options = {} if n_threads is None else {"nThreads": n_threads}
        info = page.evaluate("(options) => modelTest.load(options)", options)
        runs = []
        for r in range(rounds):
            messages = first_step_messages(int(time.time() * 1000) + r)
            step1 = page.evaluate("(request) => modelTest.generate(request)",
                                  {"messages": messages, "maxTokens": decode, "options": {"ignore_eos": True}})
            # As the agent's next step: the model's own answer (already in the KV cache), then an observation.
            follow = messages + [{"role": "assistant", "content": step1["text"]},
                                 {"role": "user", "content": OBSERVATION}]
            step2 = page.evaluate("(request) => modelTest.generate(request)",
                                  {"messages": follow, "maxTokens": 8, "options": {"ignore_eos": True}})
            runs.append((step1, step2))
        return {"info": info, "runs": runs}
    finally:
        context.close()


# (task, accepted answers): everyday tasks a visitor tries first, each one code step for a capable model
TASKS = [("What is 15% of 240?", {"36", "36.0"}),
         ("How many days are there between 2024-01-01 and 2024-03-01?", {"60"}),
         ("Reverse the word 'wasm'.", {"msaw"}),
         ("List the first 10 prime numbers.", {"[2,3,5,7,11,13,17,19,23,29]"}),
         ("What is the capital of France?", {"paris"}),
         ("Sort the numbers 42, 7, 19, 3 from smallest to largest.", {"[3,7,19,42]"}),
         ("What is the sum of the numbers from 1 to 100?", {"5050"}),
         ("How many letters are in the word 'browser'?", {"7"})]
# Kinds of task the small prompt's examples do not show (its examples cover the eight above: arithmetic,
# percent, dates, strings, lists, a fact), to see how far beyond its examples the small model goes.
OTHER_TASKS = [("What is the average of 4, 8 and 15?", {"9", "9.0"}),
               ("Is 91 a prime number? Answer True or False.", {"false"}),
               ("Convert 100 degrees Fahrenheit to Celsius, rounded to one decimal.", {"37.8"}),
               ("What is the largest of 12, 45 and 7?", {"45"})]


def normalise(answer: str) -> str:
    """An answer as compared: no spaces, lower case, no final full stop or quotes."""
    return "".join(answer.split()).lower().rstrip(".").strip("'\"")


AGENT_RUN = """
import json
from wasm_agent import CodeAgent
from wasm_agent.models.browser import BrowserModel
args = json.loads(args_json)
agent = CodeAgent([], BrowserModel(), executor_type="inprocess",  # the small model's own defaults
                  max_steps=args["max_steps"])
result = await agent.arun(args["task"], return_full_result=True)
steps = [s for s in agent.memory.steps if type(s).__name__ == "ActionStep"]
json.dumps({"state": str(getattr(result.state, "value", result.state)), "output": str(result.output),
            "steps": len(steps), "first_code": bool(steps and steps[0].code_action),
            "first_output": steps[0].model_output if steps else None,
            "trace": [[s.model_output, s.error.message if s.error else None] for s in steps]})
"""


def run_tasks(browser, site: ModelSite, wheel: Path, max_steps: int) -> list[dict]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{site.url}/test/browser-model.html")
        page.wait_for_function("window.modelTest !== undefined")
        page.evaluate("modelTest.load()")
        page.evaluate("(wheel) => modelTest.startPython(wheel)", f"/wheels/{wheel.name}")
        results = []
        for task, accepted in TASKS + OTHER_TASKS:
            t0 = time.time()
            run = page.evaluate("([code, args]) => modelTest.python(code, args)",
                                [AGENT_RUN, {"task": task, "max_steps": max_steps}])
            run.update(task=task, other=(task, accepted) in OTHER_TASKS, correct=run["state"] == "success" and normalise(run["output"]) in accepted,
                       seconds=time.time() - t0)
            results.append(run)
            print(f"bench: {task!r}: {run['state']} {run['output']!r} ({run['seconds']:.0f} s)", file=sys.stderr)
            for output, error in run["trace"]:
                print(f"    step: {output!r}" + (f"\n    error: {error[:200]!r}" if error else ""), file=sys.stderr)
        return results
    finally:
        context.close()


def median(values):
    return statistics.median(values) if values else float("nan")


def summarise(name: str, result: dict) -> dict:
    runs = result["runs"]
    return {
        "mode": name,
        "threads": result["info"]["threads"],
        "ready_s": result["info"]["readyMs"] / 1000,
        "prompt_n": median([s1["timings"]["prompt_n"] for s1, _ in runs]),
        "prompt_tps": median([s1["timings"]["prompt_per_second"] for s1, _ in runs]),
        "ttft_s": median([s1["ttftMs"] / 1000 for s1, _ in runs]),
        "decode_tps": median([s1["timings"]["predicted_per_second"] for s1, _ in runs]),
        "step2_new": median([s2["timings"]["prompt_n"] for _, s2 in runs]),
        "step2_cached": median([s2["timings"]["cache_n"] for _, s2 in runs]),
        "step2_ttft_s": median([s2["ttftMs"] / 1000 for _, s2 in runs]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--decode", type=int, default=64, help="tokens to generate in step 1")
    parser.add_argument("--modes", default=",".join(name for name, *_ in MODES), help="comma-separated; '' for none")
    parser.add_argument("--tasks", action="store_true", help="also run a CodeAgent on a few simple tasks (2 threads)")
    parser.add_argument("--max-steps", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    files = build_model_files()
    wheel = build_wheel() if args.tasks else None
    sites = {isolated: ModelSite(site_mounts(files, wheel), isolated=isolated) for isolated in (True, False)}
    rows, load_before = [], os.getloadavg()[0]
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for name, isolated, n_threads in MODES:
            if name not in args.modes.split(","):
                continue
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
            rows.append(summarise(name, measure(browser, sites[isolated], n_threads, args.rounds, args.decode)))
        tasks = run_tasks(browser, sites[True], wheel, args.max_steps) if args.tasks else []
        browser.close()
    for site in sites.values():
        site.close()

    print(f"\nSmolLM2-135M-Instruct Q4_1, wllama 3.13, Chromium, {os.cpu_count()} cores, "
          f"median of {args.rounds} rounds; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n")
    header = ("| mode | threads | page → ready (s) | step 1 prompt (tok) | prompt tok/s | TTFT (s) | decode tok/s "
              "| step 2: new / cached tok | step 2 TTFT (s) |")
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    for row in rows:
        print(f"| {row['mode']} | {row['threads']} | {row['ready_s']:.1f} | {row['prompt_n']:.0f} | "
              f"{row['prompt_tps']:.1f} | {row['ttft_s']:.1f} | {row['decode_tps']:.1f} | "
              f"{row['step2_new']:.0f} / {row['step2_cached']:.0f} | {row['step2_ttft_s']:.1f} |")
    if tasks:
        others, tasks = [r for r in tasks if r["other"]], [r for r in tasks if not r["other"]]
        print(f"\nOther kinds of task: {sum(r['correct'] for r in others)}/{len(others)} correct", end="")
        print(f"\nCodeAgent, small prompt, max_steps={args.max_steps}, 2 threads: "
              f"{sum(r['first_code'] for r in tasks)}/{len(tasks)} first answers with a code block, "
              f"{sum(r['correct'] for r in tasks)}/{len(tasks)} correct; median time to an answer or to giving up "
              f"{median([r['seconds'] for r in tasks]):.0f} s, longest {max(r['seconds'] for r in tasks):.0f} s\n")
        print("| task | state | answer | steps | s |")
        print("|---|---|---|---|---|")
        for r in tasks + others:
            print(f"| {r['task']}{' (other kind)' if r['other'] else ''} | {r['state']} | {r['output'][:30]!r} | {r['steps']} | {r['seconds']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
