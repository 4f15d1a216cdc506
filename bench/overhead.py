"""Framework overhead per step: wasm-agent against smolagents 1.26.0, in one run.

    python bench/overhead.py              # 7 rounds, both sides, table at the end
    python bench/overhead.py --rounds 3   # quicker
    python bench/overhead.py --quick --ours-only   # smoke: 1 round of ours, no smolagents venv

Each measurement is a fresh subprocess of the same Python version (ours from
this repo, smolagents from bench/.venv-smolagents, made by bench/setup.sh),
and the sides alternate within every round, because this shared box has fast
and slow phases (see shared/BENCHMARKS.md). A worker imports the package
(timed), then several times builds an agent with a scripted model (timed
apart) and runs 20 steps (timed): 19 trivial actions, then `final_answer`.
Every run's answer, step count and step errors are checked, so a broken run
cannot look fast. This is a bench, not a test: nothing here asserts a time.

Scenarios (the same on both sides):
  code         CodeAgent, default in-process executor. Both run the code in a
               worker thread to enforce a time limit (ours always; smolagents'
               LocalPythonExecutor with its default timeout_seconds=30).
  code-inline  CodeAgent without that thread: ours with the bench's
               InlineExecutor (our CodeRunner called on the loop), smolagents
               with timeout_seconds=None. The difference to `code` is the
               thread handoff.
  tool         ToolCallingAgent, 19 calls of a trivial tool, then final_answer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SMOLAGENTS_VENV = os.path.join(HERE, ".venv-smolagents")
SMOLAGENTS_VERSION = "1.26.0"
STEPS = 20
SCENARIOS = ("code", "code-inline", "tool")
RESULT_PREFIX = "BENCH-RESULT "
TASK = "Count to twenty, one step at a time."
SOURCE_VARIABLE = "WASM_AGENT_BENCH_SOURCE"  # where the workers import our package from (--ours-src)


# -- the scripted behaviour, shared by both sides -------------------------------------

def code_responses() -> list[str]:
    """19 trivial code actions, then final_answer(x + 1) == 20."""
    actions = [f"Thought: step {i}.\n<code>\nx = {i}\n</code>" for i in range(1, STEPS)]
    return actions + ["Thought: done.\n<code>\nfinal_answer(x + 1)\n</code>"]


def tool_calls() -> list[tuple[str, dict]]:
    """19 calls of add_one, then final_answer("done")."""
    return [("add_one", {"x": i}) for i in range(1, STEPS)] + [("final_answer", {"answer": "done"})]


EXPECTED = {"code": 20, "code-inline": 20, "tool": "done"}


# -- ours ------------------------------------------------------------------------------

def ours_agents(scenario: str):
    """(build, check, import seconds) for our side."""
    source = os.environ.get(SOURCE_VARIABLE, REPO)
    sys.path.insert(0, source)
    started = time.perf_counter()
    import wasm_agent
    import_s = time.perf_counter() - started
    from wasm_agent import (ActionStep, ChatMessage, CodeAgent, InProcessExecutor, ScriptedModel, TokenUsage,
                            ToolCallingAgent, tool)

    if not os.path.abspath(wasm_agent.__file__).startswith(os.path.abspath(source) + os.sep):
        raise SystemExit(f"wasm_agent was imported from {wasm_agent.__file__}, not from {source}")

    class InlineExecutor(InProcessExecutor):
        """Our CodeRunner called on the event loop: the in-process executor minus its worker thread."""

        async def run(self, code):
            return self.runner.run(code)

    @tool
    def add_one(x: int) -> int:
        """Add one to an integer.

        Args:
            x: The integer.
        """
        return x + 1

    usage = TokenUsage(input_tokens=10, output_tokens=5)  # fixed, as on the smolagents side

    def build():
        if scenario == "tool":
            messages = [ChatMessage(role="assistant", token_usage=usage, tool_calls=[
                {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": arguments}}])
                for i, (name, arguments) in enumerate(tool_calls())]
            return ToolCallingAgent([add_one], ScriptedModel(messages), max_steps=STEPS, verbosity_level=-1)
        messages = [ChatMessage(role="assistant", content=text, token_usage=usage) for text in code_responses()]
        executor = InlineExecutor() if scenario == "code-inline" else None
        return CodeAgent([], ScriptedModel(messages), executor_type="inprocess", executor=executor,
                         max_steps=STEPS, verbosity_level=-1)  # quiet, as the smolagents side

    def check(agent, output):
        steps = [s for s in agent.memory.steps if isinstance(s, ActionStep)]
        errors = [str(s.error) for s in steps if s.error is not None]
        return output, len(steps), errors

    return build, check, import_s


# -- smolagents ------------------------------------------------------------------------

def smolagents_agents(scenario: str):
    """(build, check, import seconds) for smolagents."""
    started = time.perf_counter()
    import smolagents
    import_s = time.perf_counter() - started
    from smolagents import ActionStep, ChatMessage, CodeAgent, Model, ToolCallingAgent, tool
    from smolagents.models import (ChatMessageToolCall, ChatMessageToolCallFunction, MessageRole,
                                   remove_content_after_stop_sequences)
    from smolagents.monitoring import TokenUsage

    if smolagents.__version__ != SMOLAGENTS_VERSION:
        raise SystemExit(f"smolagents {smolagents.__version__} is installed, the baseline is {SMOLAGENTS_VERSION}")

    class ScriptedSmolModel(Model):
        """Answers in order, cut at the stop sequences, like our ScriptedModel."""

        def __init__(self, responses):
            super().__init__(model_id="scripted")
            self.responses = list(responses)
            self.calls = []

        def generate(self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None,
                     **kwargs):
            self.calls.append({"messages": list(messages), "stop_sequences": stop_sequences,
                               "tools": tools_to_call_from})
            response = self.responses[len(self.calls) - 1]
            return ChatMessage(role=MessageRole.ASSISTANT,
                               content=remove_content_after_stop_sequences(response.content, stop_sequences),
                               tool_calls=response.tool_calls, token_usage=TokenUsage(10, 5))

    @tool
    def add_one(x: int) -> int:
        """Add one to an integer.

        Args:
            x: The integer.
        """
        return x + 1

    def build():
        if scenario == "tool":
            messages = [ChatMessage(role=MessageRole.ASSISTANT, content=None, tool_calls=[
                ChatMessageToolCall(id=f"call_{i}", type="function",
                                    function=ChatMessageToolCallFunction(name=name, arguments=arguments))])
                for i, (name, arguments) in enumerate(tool_calls())]
            return ToolCallingAgent([add_one], ScriptedSmolModel(messages), max_steps=STEPS, verbosity_level=-1)
        messages = [ChatMessage(role=MessageRole.ASSISTANT, content=text) for text in code_responses()]
        executor_kwargs = {"timeout_seconds": None} if scenario == "code-inline" else None
        return CodeAgent([], ScriptedSmolModel(messages), max_steps=STEPS, verbosity_level=-1,
                         executor_kwargs=executor_kwargs)

    def check(agent, output):
        steps = [s for s in agent.memory.steps if isinstance(s, ActionStep)]
        errors = [str(s.error) for s in steps if s.error is not None]
        return output, len(steps), errors

    return build, check, import_s


# -- one worker process ------------------------------------------------------------------

def measure(build, check, runs: int, import_s: float) -> dict:
    construct_ms, run_ms, problems = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        agent = build()
        built = time.perf_counter()
        output = agent.run(TASK)
        finished = time.perf_counter()
        construct_ms.append((built - started) * 1e3)
        run_ms.append((finished - built) * 1e3)
        problems.append(check(agent, output))
    return {"import_s": import_s, "construct_ms": construct_ms, "run_ms": run_ms,
            "checks": [[repr(output), steps, errors] for output, steps, errors in problems],
            "python": ".".join(map(str, sys.version_info[:3]))}


def worker_main(side: str, scenario: str, runs: int) -> None:
    build, check, import_s = (ours_agents if side == "ours" else smolagents_agents)(scenario)
    print(RESULT_PREFIX + json.dumps(measure(build, check, runs, import_s)), flush=True)


def profile_main(side: str, scenario: str, runs: int, top: int = 40) -> None:
    """cProfile over `runs` warm runs; prints cumulative and own time per step (µs).

    cProfile slows Python calls several-fold, so read the shares, not the absolutes.
    """
    import cProfile
    import pstats

    build, _, _ = (ours_agents if side == "ours" else smolagents_agents)(scenario)
    for _ in range(3):
        build().run(TASK)
    agents = [build() for _ in range(runs)]
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for agent in agents:
        agent.run(TASK)
    profile.disable()
    steps = runs * STEPS
    print(f"{side} {scenario}: {(time.perf_counter() - started) / steps * 1e6:.1f} us/step under cProfile")
    rows = [(cumulative, own, calls, f"{path.replace(REPO + os.sep, '')}:{line}({name})")
            for (path, line, name), (_, calls, own, cumulative, _) in pstats.Stats(profile).stats.items()]
    for title, key in (("by cumulative time", 0), ("by own time", 1)):
        print(f"\n{title}\n{'cum us/step':>11} {'own us/step':>11} {'calls/step':>10}  function")
        for cumulative, own, calls, where in sorted(rows, key=lambda row: -row[key])[:top]:
            print(f"{cumulative / steps * 1e6:11.1f} {own / steps * 1e6:11.1f} {calls / steps:10.2f}  {where[-100:]}")


# -- the driver --------------------------------------------------------------------------

def ensure_smolagents_venv() -> str:
    subprocess.run(["bash", os.path.join(HERE, "setup.sh")], check=True,
                   env={**os.environ, "PYTHON": sys.executable})
    return os.path.join(SMOLAGENTS_VENV, "bin", "python")


def run_worker(python: str, side: str, scenario: str, runs: int) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONSTARTUP")}
    if side == "smolagents":
        env.pop(SOURCE_VARIABLE, None)
    process = subprocess.run([python, os.path.abspath(__file__), "--worker", side, scenario, str(runs)],
                             capture_output=True, text=True, env=env, cwd=HERE, check=False)
    lines = [line for line in process.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if process.returncode != 0 or not lines:
        raise SystemExit(f"{side} {scenario} worker failed (exit {process.returncode}):\n"
                         f"{process.stdout[-2000:]}\n{process.stderr[-4000:]}")
    result = json.loads(lines[-1][len(RESULT_PREFIX):])
    for output, steps, errors in result["checks"]:
        if output != repr(EXPECTED[scenario]) or steps != STEPS or errors:
            raise SystemExit(f"{side} {scenario}: a run is broken: answer {output} (want "
                             f"{EXPECTED[scenario]!r}), {steps} steps (want {STEPS}), step errors {errors}")
    return result


def summarise(results: list[dict]) -> dict:
    """Per worker: first run (cold) and median of the others (warm), in ms/step; import in s."""
    return {"cold": [r["run_ms"][0] / STEPS for r in results],
            "warm": [statistics.median(r["run_ms"][1:] or r["run_ms"]) / STEPS for r in results],
            "construct": [statistics.median(r["construct_ms"]) for r in results],
            "import": [r["import_s"] for r in results]}


def run_rounds(pythons: dict[str, str], scenarios: list[str], rounds: int, runs: int) -> dict:
    results: dict[tuple[str, str], list[dict]] = {(side, s): [] for side in pythons for s in scenarios}
    for round_index in range(rounds):
        for scenario in scenarios:
            # Alternate who goes first, so neither side always meets the same phase of the box.
            sides = list(pythons) if round_index % 2 == 0 else list(reversed(pythons))
            for side in sides:
                results[side, scenario].append(run_worker(pythons[side], side, scenario, runs))
        print(f"round {round_index + 1}/{rounds} done", file=sys.stderr, flush=True)
    return results


def print_table(results: dict, sides: list[str], scenarios: list[str], rounds: int, runs: int) -> None:
    both = len(sides) > 1
    figures = {key: summarise(value) for key, value in results.items()}
    python = results["ours", scenarios[0]][0]["python"]
    print(f"\nFramework overhead per step: {STEPS} scripted steps, CPython {python}, {rounds} rounds x {runs} runs, "
          "a fresh process per round and side")
    print(f"ours: wasm_agent from {os.environ.get(SOURCE_VARIABLE, REPO)}")
    print("ms/step = agent.run() wall time / 20 (construction excluded); warm = median of a process's runs 2.., "
          "cold = its first run; median (min) over rounds\n")
    header = f"{'scenario':<12} {'':<5} {'ours ms/step':>16}" + (f" {'smolagents':>16} {'ratio':>14}" if both else "")
    print(header + "\n" + "-" * len(header))
    for scenario in scenarios:
        ours = figures["ours", scenario]
        for kind in ("warm", "cold"):
            line = f"{scenario:<12} {kind:<5} {_pair(ours[kind], 3):>16}"
            if both:
                theirs = figures["smolagents", scenario]
                ratios = [t / o for t, o in zip(theirs[kind], ours[kind])]
                line += (f" {_pair(theirs[kind], 3):>16} "
                         f"{statistics.median(ratios):>5.1f}x ({min(theirs[kind]) / min(ours[kind]):.1f}x)")
            print(line)
    if "code" in scenarios and "code-inline" in scenarios:
        handoff = [(a - b) * 1e3 for a, b in zip(figures["ours", "code"]["warm"],
                                                 figures["ours", "code-inline"]["warm"])]
        print(f"\nours, cost of the time limit (code - code-inline, warm, median of the rounds): "
              f"{statistics.median(handoff):.0f} us/step")
    print(f"\n{'construction ms':<16} {'ours':>16}" + (f" {'smolagents':>16}" if both else ""))
    for scenario in scenarios:
        print(f"{scenario:<16}" + "".join(f" {_pair(figures[side, scenario]['construct'], 2):>16}" for side in sides))
    print("\nimport s         " + "".join(
        f" {'wasm_agent' if side == 'ours' else 'smolagents'} "
        f"{_pair([x for s in scenarios for x in figures[side, s]['import']], 3)}" for side in sides))
    if both:
        print("ratio = smolagents / ours: median of the per-round ratios (ratio of the minima)")


def _pair(values: list[float], digits: int) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="worker processes per side and scenario (7)")
    parser.add_argument("--runs", type=int, help="runs per worker, the first counts as cold (6; 100 for --profile)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated subset of {SCENARIOS}")
    parser.add_argument("--ours-only", action="store_true", help="skip smolagents (no venv needed)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 2 runs per worker")
    parser.add_argument("--ours-src", metavar="DIR", help="measure the wasm_agent package in DIR instead of this "
                        "repo's, e.g. a `git archive` of another commit")
    parser.add_argument("--json", metavar="FILE", help="also write every raw figure to FILE")
    parser.add_argument("--profile", metavar="SCENARIO", help="instead: cProfile one scenario's warm runs")
    parser.add_argument("--side", default="ours", choices=("ours", "smolagents"), help="side for --profile")
    parser.add_argument("--worker", nargs=3, metavar=("SIDE", "SCENARIO", "RUNS"), help=argparse.SUPPRESS)
    parser.add_argument("--worker-profile", metavar="SCENARIO", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ours_src:
        os.environ[SOURCE_VARIABLE] = os.path.abspath(args.ours_src)
    if args.worker:
        side, scenario, runs = args.worker
        worker_main(side, scenario, int(runs))
        return
    if args.worker_profile:
        profile_main(args.side, args.worker_profile, args.runs)
        return
    if args.profile:
        if args.profile not in SCENARIOS:
            parser.error(f"unknown scenario {args.profile!r}; choose from {SCENARIOS}")
        python = ensure_smolagents_venv() if args.side == "smolagents" else sys.executable
        subprocess.run([python, os.path.abspath(__file__), "--worker-profile", args.profile, "--side", args.side,
                        "--runs", str(args.runs or 100)], check=True, cwd=HERE)
        return
    rounds, runs = (1, 2) if args.quick else (args.rounds, args.runs or 6)
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown or not scenarios:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {SCENARIOS}")
    pythons = {"ours": sys.executable}
    if not args.ours_only:
        pythons["smolagents"] = ensure_smolagents_venv()
    results = run_rounds(pythons, scenarios, rounds, runs)
    print_table(results, list(pythons), scenarios, rounds, runs)
    if args.json:
        with open(args.json, "w") as file:
            json.dump({f"{side} {scenario}": value for (side, scenario), value in results.items()}, file, indent=1)


if __name__ == "__main__":
    main()
