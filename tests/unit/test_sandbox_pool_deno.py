"""The sandbox pool with real sandboxes (Deno + Pyodide): many agents at once, no process left behind.

Needs `pip install deno` and `npm ci`. Processes are found in /proc as children of this
process named `deno`.
"""

import asyncio
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from deno_sandbox import cpu_seconds, require_deno_sandbox
from sample_tools import wait_long

from wasm_agent import CodeAgent, ScriptedModel, configure_sandboxes, tool
from wasm_agent.executor import ExecutionLimits
from wasm_agent.executor.pool import PoolSettings, SandboxPool, default_pool
from wasm_agent.executor.pooled_executor import PooledSandboxExecutor

pytestmark = pytest.mark.cpython_only

require_deno_sandbox()
REPO = Path(__file__).resolve().parents[2]


def deno_children(parent: int | None = None) -> set[int]:
    """Pids of the live `deno` processes whose parent is `parent` (default: this process)."""
    parent = os.getpid() if parent is None else parent
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if name == "deno" and int(rest[1]) == parent and rest[0] != "Z":
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition, seconds=15.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def code(body: str) -> str:
    return f"Thought: I act.\n<code>\n{body}\n</code>"


def squares_agent(pool, i, **kwargs):
    """An agent whose two steps compute a number only its own variables give: i² + i."""
    responses = [code(f"n = {i}\nsquare = n * n\nprint(square)"), code("final_answer(square + n)")]
    return CodeAgent([wait_long], ScriptedModel(responses), executor=PooledSandboxExecutor(pool=pool, **kwargs),
                     verbosity_level=0)


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(PoolSettings(max_workers=8, idle_seconds=120, acquire_timeout=120))
    yield pool
    pool.shutdown()


async def test_eight_agents_at_once_in_one_process_all_correct(pool):
    before = deno_children()
    agents = [squares_agent(pool, i) for i in range(8)]
    results = await asyncio.gather(*(agent.arun(f"task {i}") for i, agent in enumerate(agents)))
    assert results == [i * i + i for i in range(8)]
    assert len(deno_children() - before) == 1  # eight sandboxes share one Deno process
    assert all(agent.memory.steps[1].observations.startswith(f"Execution logs:\n{i * i}\n")
               for i, agent in enumerate(agents))
    assert pool.stats()["busy"] == 0 and pool.created <= 8


def test_eight_threads_calling_run_all_correct(pool):
    results = {}

    def one(i):
        results[i] = squares_agent(pool, 100 + i).run(f"task {i}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert results == {i: (100 + i) ** 2 + 100 + i for i in range(8)}
    assert pool.created <= 8  # the sandboxes of the test before serve again (reset first)


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


async def test_a_sandbox_reset_again_and_again_keeps_its_process_memory_flat():
    """Each reset replaces the sandbox's worker; the replaced ones (asleep between requests) must end and
    give their memory back, or a web app that resets a sandbox per request grows without bound."""
    from wasm_agent.executor.sandbox import DenoSandboxExecutor, SandboxHost

    host = SandboxHost()
    executor = DenoSandboxExecutor(host=host)
    try:
        grow = "data = bytearray(40_000_000)\nprint(len(data))"  # 40 MB of the worker's wasm memory
        assert (await executor.run(grow)).logs.strip() == "40000000"
        await asyncio.sleep(1.0)
        before = rss_mib(host.pid)
        for _ in range(6):
            await executor.reset()
            output = await executor.run(f"print('data' in globals())\n{grow}")
            assert output.logs.split() == ["False", "40000000"]  # a fresh interpreter each time
        await asyncio.sleep(1.0)
        # Six replaced workers kept alive would hold over 400 MiB more (each its 70 MB of wasm memory).
        assert rss_mib(host.pid) - before < 150
    finally:
        await executor.close()
        await host.aclose()


async def test_a_sandbox_process_killed_mid_run_is_replaced_and_every_run_finishes():
    in_tool = threading.Event()

    @tool
    async def wait_here() -> str:
        """Wait long on the host."""
        in_tool.set()
        await asyncio.sleep(60)
        return "never"

    pool = SandboxPool(PoolSettings(max_workers=4, sandboxes_per_process=2, spares=0))

    def agent(tools, responses):
        return CodeAgent(tools, ScriptedModel(responses), executor=PooledSandboxExecutor(pool=pool), verbosity_level=0)

    victim = agent([wait_here], [code("wait_here()"), code("final_answer('after the crash')")])
    # The others do their step again if a crash of their process lost it.
    others = [agent([wait_long], [code(f"wait_long(3)\nfinal_answer({i} * 10)")] * 3) for i in range(3)]
    runs = [asyncio.ensure_future(a.arun("go")) for a in [victim, *others]]
    try:
        assert await asyncio.to_thread(in_tool.wait, 120)
        host = victim.executor.sandbox.host
        pid = host.pid
        os.kill(pid, signal.SIGKILL)
        results = await asyncio.gather(*runs)
    finally:
        pool.shutdown()
    assert results == ["after the crash", 0, 10, 20]
    assert "The sandbox stopped while running the code" in victim.memory.steps[1].error.message
    elsewhere = [a for a in others if a.executor.sandbox.host is not host]
    assert len(elsewhere) >= 2  # two sandboxes per process: at most one other shared the victim's
    assert all(step.error is None for a in elsewhere for step in a.memory.action_steps)
    assert not alive(pid)


@tool
def echo(text: str) -> str:
    """Give the text back.

    Args:
        text: Any text.
    """
    return text


@tool
def shout(text: str) -> str:
    """Give the text back in capitals.

    Args:
        text: Any text.
    """
    return text.upper()


async def test_agents_taking_turns_in_one_sandbox_each_see_their_own_tools_only():
    pool = SandboxPool(PoolSettings(max_workers=1, spares=0))

    async def answer(tools, body):
        async with CodeAgent(tools, ScriptedModel([code(body)]), executor=PooledSandboxExecutor(pool=pool),
                             verbosity_level=0) as agent:
            return await agent.arun("go")

    which = "final_answer(sorted(n for n in ('echo', 'shout') if n in globals()))"
    try:
        assert await answer([echo], f"echo('a')\n{which}") == ["echo"]
        assert await answer([echo], f"{which} if echo('b') == 'b' else 0") == ["echo"]  # the same tools again
        assert await answer([shout], f"{which} if shout('c') == 'C' else 0") == ["shout"]
        assert await answer([], which) == []
        assert await answer([echo], f"{which} if echo('d') == 'd' else 0") == ["echo"]
        assert pool.created == 1
    finally:
        pool.shutdown()


async def test_a_stuck_worker_ends_its_process_once_the_other_run_in_it_is_over():
    """One agent's code ignores its time limit while another agent's run shares its process: the other
    run keeps its variables and finishes there; the stuck one goes on in a new process; the old process
    (and its spinning thread) ends when the other run is over, and nothing is left after the pool ends."""
    pool = SandboxPool(PoolSettings(max_workers=4, spares=0))
    before = deno_children()
    shared = {}

    async def think_until_retired(messages):
        # Between two steps of this run (its variables in the process), the other agent's code gets stuck.
        shared["process"] = deno_children() - before
        host = stuck.executor.sandbox.host
        deadline = time.monotonic() + 120
        while not host.retired and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        # A new agent now gets a sandbox in another process; this run stays where its variables are.
        newcomer = CodeAgent([echo], ScriptedModel([code("final_answer(echo('new'))")]),
                             executor=PooledSandboxExecutor(pool=pool), verbosity_level=0)
        assert await newcomer.arun("go") == "new"
        shared["newcomer"], shared["patient"] = newcomer.executor.sandbox.pid, patient.executor.sandbox.pid
        return code("print(square)")

    patient = CodeAgent([echo], ScriptedModel([code("n = 6\nsquare = n * n"), think_until_retired,
                                               code("final_answer(square + n)"),
                                               code("final_answer('square' in dir())")]),
                        executor=PooledSandboxExecutor(pool=pool), verbosity_level=0)
    stubborn = "while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass"
    stuck = CodeAgent([echo], ScriptedModel([code(stubborn), code("final_answer(echo('after'))")]),
                      executor=PooledSandboxExecutor(pool=pool, limits=ExecutionLimits(timeout_seconds=1)),
                      verbosity_level=0)
    try:
        assert await asyncio.gather(patient.arun("go"), stuck.arun("go")) == [42, "after"]
        assert len(shared["process"]) == 1  # both sandboxes were in one process
        [old] = shared["process"]
        assert shared["patient"] == old and shared["newcomer"] not in (old, None)
        assert "did not stop" in stuck.memory.action_steps[0].error.message
        assert all(step.error is None for step in patient.memory.action_steps)
        assert patient.memory.action_steps[1].observations.startswith("Execution logs:\n36\n")
        host = stuck.executor.sandbox.host
        # Killed and reaped (no zombie) once the other run was over.
        assert wait_until(lambda: old not in host.pids), "the process of the stuck worker outlived the runs in it"
        assert not Path(f"/proc/{old}").exists() and host.pids == [host.pid] == [stuck.executor.sandbox.pid]
        assert wait_until(lambda: pool.stats()["busy"] == 0)  # a dropped agent's sandbox is reset meanwhile
        await asyncio.sleep(1)  # the fresh worker it got boots
        started = cpu_seconds(host.pid)
        await asyncio.sleep(2)
        assert cpu_seconds(host.pid) - started < 0.5  # a spinning worker would take ~2 s of CPU here
        # Continuing, the other agent finds its sandbox in the new process, told that its variables are gone.
        assert await patient.arun("again", reset=False) is False
        assert "did not stop); all variables were lost" in patient.memory.action_steps[-1].observations
        assert patient.executor.sandbox.pid == host.pid
    finally:
        pool.shutdown()
    assert wait_until(lambda: not (deno_children() - before))


async def test_a_dropped_agent_leaves_no_process_once_the_pool_ends_idle_ones():
    pool = SandboxPool(PoolSettings(max_workers=2, idle_seconds=1.0))
    before = deno_children()
    agent = squares_agent(pool, 3)
    assert await agent.arun("go") == 12
    started = deno_children() - before
    assert len(started) == 1
    del agent
    gc.collect()
    assert wait_until(lambda: not (deno_children() & started)), "the sandbox process outlived its agent"
    assert pool.stats()["sandboxes"] == 0


EXIT_PROGRAM = """
import os
from wasm_agent import CodeAgent, ScriptedModel
agent = CodeAgent([], ScriptedModel(["<code>final_answer(6 * 7)</code>"]), verbosity_level=0)
assert agent.run("go") == 42
pids = [entry for entry in os.listdir("/proc") if entry.isdigit()]
mine = []
for pid in pids:
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    if stat[stat.index("(") + 1:stat.rindex(")")] == "deno" and int(stat[stat.rindex(")") + 2:].split()[1]) == os.getpid():
        mine.append(int(pid))
print(mine, flush=True)
"""  # the agent is still referenced and the pool's idle time not over: only the exit ends its sandbox


def test_interpreter_exit_leaves_no_sandbox_process():
    result = subprocess.run([sys.executable, "-c", EXIT_PROGRAM], capture_output=True, text=True, timeout=180,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    pids = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(pids) == 1
    assert wait_until(lambda: not any(alive(pid) for pid in pids), seconds=5)


def test_a_web_app_making_an_agent_per_request_leaks_no_process():
    uvicorn = pytest.importorskip("uvicorn")
    sys.path.insert(0, str(REPO / "examples" / "async_agent"))
    try:
        from app import create_app
    finally:
        sys.path.pop(0)

    def answer(messages):
        task = messages[-1].content[-1]["text"] if isinstance(messages[-1].content, list) else messages[-1].content
        a, b = [int(word) for word in task.replace("?", "").split() if word.isdigit()]
        return code(f"final_answer({a} * {b})")

    configure_sandboxes(max_workers=3)
    default_pool().close_idle()  # an earlier test's sandboxes of the default pool: these requests start their own
    before = deno_children()
    created = default_pool().stats()["created"]
    server = uvicorn.Server(uvicorn.Config(create_app(lambda: ScriptedModel([answer])), log_level="warning"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started)

        def ask(i):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/run-agent", method="POST",
                                             data=json.dumps({"task": f"What is {i} times 7?"}).encode(),
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.load(response)

        answers = {}
        threads = [threading.Thread(target=lambda i=i: answers.__setitem__(i, ask(i))) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert answers == {i: {"result": i * 7} for i in range(12)}
        started = deno_children() - before
        assert 1 <= len(started) <= 3 and 1 <= default_pool().stats()["created"] - created <= 3  # max_workers
        assert wait_until(lambda: default_pool().stats()["busy"] == 0)  # the last ones are being reset
        default_pool().close_idle()
        assert wait_until(lambda: not (deno_children() & started))
    finally:
        server.should_exit = True
        thread.join(10)
        configure_sandboxes(max_workers=PoolSettings().max_workers)
