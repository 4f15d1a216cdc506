"""The sandbox pool's rules, with executors that record what they are asked (no Deno needed).

What a user of the pool sees: a run gets a sandbox and gives it back; another agent's run
never sees an earlier run's interpreter (reset first); the same agent continuing keeps its
variables; all busy means a wait, then a clear error; idle sandboxes end; a dropped agent
gives its sandbox back.
"""

import asyncio
import gc
import threading
import time

import pytest

from wasm_agent import CodeAgent, ScriptedModel, SandboxPoolTimeoutError, tool
from wasm_agent.executor.base import CodeOutput, ExecutionLimits, Executor
from wasm_agent.executor.pool import PoolSettings, SandboxPool
from wasm_agent.executor.pooled_executor import PooledSandboxExecutor

pytestmark = pytest.mark.cpython_only


class RecordingSandbox(Executor):
    """Runs `name = value` and `final_answer(name)` against a dict; records resets and closes."""

    made = 0

    def __init__(self, limits=None, **settings):
        RecordingSandbox.made += 1
        self.number = RecordingSandbox.made
        self.limits, self.settings = limits or ExecutionLimits(), settings
        self.namespace, self.tools = {}, {}
        self.resets = self.runs = 0
        self.closed = False

    async def send_tools(self, tools):
        self.tools = dict(tools)

    async def send_variables(self, variables):
        self.namespace.update(variables)

    async def reset(self):
        self.resets += 1
        self.namespace = {}

    async def run(self, code):
        self.runs += 1
        await asyncio.sleep(0.01)
        if code.startswith("final_answer(") and code.endswith(")"):
            name = code[len("final_answer("):-1]
            if name in self.tools:
                return CodeOutput(output=await self.tools[name].acall(), is_final_answer=True)
            if name not in self.namespace:
                return CodeOutput(error=f"NameError: {name}")
            return CodeOutput(output=self.namespace[name], is_final_answer=True)
        name, value = code.split(" = ")
        self.namespace[name] = value
        return CodeOutput(output=None)

    async def interrupt(self):
        pass

    async def close(self):
        self.closed = True


def wait_until(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def make_pool(**settings):
    return SandboxPool(PoolSettings(**{"idle_seconds": 60, "spares": 0, **settings}), factory=RecordingSandbox)


def agent(pool, responses, **kwargs):
    executor = PooledSandboxExecutor(pool=pool, **kwargs)
    return CodeAgent([], ScriptedModel([f"<code>{r}</code>" for r in responses]), executor=executor,
                     verbosity_level=0)


async def test_a_run_borrows_a_sandbox_and_gives_it_back():
    pool = make_pool()
    first = agent(pool, ["x = 1", "final_answer(x)"])
    assert await first.arun("go") == "1"
    assert pool.stats() == {"sandboxes": 1, "busy": 0, "idle": 1, "waiting": 0, "created": 1}
    second = agent(pool, ["final_answer(x)", "x = 2", "final_answer(x)"])
    assert await second.arun("go") == "2"
    assert second.memory.steps[1].error.message == "NameError: x"  # the first agent's variable is gone
    assert pool.created == 1 and first.executor.sandbox is second.executor.sandbox


async def test_the_same_agent_continuing_keeps_its_variables_and_a_new_run_does_not():
    pool = make_pool()
    a = agent(pool, ["x = 1", "final_answer(x)"])
    await a.arun("go")
    a.model = ScriptedModel(["<code>final_answer(x)</code>"])
    assert await a.arun("more", reset=False) == "1"
    a.model = ScriptedModel(["<code>final_answer(x)</code>", "<code>x = 3</code>", "<code>final_answer(x)</code>"])
    assert await a.arun("again") == "3"
    assert "NameError" in a.memory.steps[1].error.message


async def test_continuing_after_another_agent_took_the_sandbox_says_the_variables_were_lost():
    pool = make_pool(max_workers=1)
    a = agent(pool, ["x = 1", "final_answer(x)"])
    await a.arun("go")
    await agent(pool, ["y = 1", "final_answer(y)"]).arun("other")
    a.model = ScriptedModel(["<code>y = 2</code>", "<code>final_answer(y)</code>"])
    assert await a.arun("more", reset=False) == "2"
    assert "served another agent meanwhile; all variables were lost" in a.memory.steps[-2].observations


async def test_tools_and_state_reach_whichever_sandbox_serves_the_run():
    @tool
    def secret_number() -> int:
        """The number."""
        return 7

    pool = make_pool(max_workers=2)
    a = CodeAgent([secret_number], ScriptedModel(["<code>final_answer(secret_number)</code>"]),
                  executor=PooledSandboxExecutor(pool=pool), verbosity_level=0)
    assert await a.arun("go") == 7
    assert a.executor.sandbox.tools == {}  # an idle sandbox holds no agent's tools
    b = agent(pool, ["final_answer(extra)"])
    assert await b.arun("go", additional_args={"extra": "given"}) == "given"


async def test_a_fresh_sandbox_is_handed_out_without_a_reset_and_one_given_variables_is_reset():
    pool = make_pool(max_workers=1)
    first = agent(pool, ["x = 1", "final_answer(x)"])
    assert await first.arun("go") == "1"
    sandbox = first.executor.sandbox
    assert sandbox.resets == 0  # new: nothing in it to lose
    given = PooledSandboxExecutor(pool=pool)
    await given.reset()
    await given.send_variables({"secret": "kept?"})  # no code runs, yet the sandbox holds them
    await given.release()
    assert sandbox.resets == 1
    after = agent(pool, ["final_answer(secret)", "final_answer(x)", "x = 2", "final_answer(x)"])
    assert await after.arun("go") == "2"
    assert [step.error.message for step in after.memory.action_steps[:2]] == ["NameError: secret", "NameError: x"]
    assert sandbox.resets == 2 and after.executor.sandbox is sandbox


async def test_settings_that_differ_get_their_own_sandbox():
    pool = make_pool(max_workers=2)
    with_json = agent(pool, ["a = 1", "final_answer(a)"], additional_authorized_imports=["json"])
    await with_json.arun("go")
    await agent(pool, ["a = 1", "final_answer(a)"]).arun("go")
    assert pool.created == 2
    assert with_json.executor.sandbox.settings["additional_authorized_imports"] == ["json"]
    # A third setting with both taken: the one idle longest is ended to make room.
    await agent(pool, ["a = 1", "final_answer(a)"], additional_authorized_imports=["re"]).arun("go")
    assert pool.created == 3 and len(pool.sandboxes) == 2
    assert wait_until(lambda: with_json.executor.sandbox.closed)


async def test_all_busy_waits_for_a_sandbox_then_times_out_clearly():
    pool = make_pool(max_workers=2, acquire_timeout=0.3)
    holders = [PooledSandboxExecutor(pool=pool) for _ in range(3)]
    await holders[0].run("x = 1")
    await holders[1].run("x = 1")
    started = time.monotonic()
    with pytest.raises(SandboxPoolTimeoutError, match="all 2 sandboxes stayed busy for 0.3 s.*max_workers"):
        await holders[2].run("x = 1")
    assert time.monotonic() - started >= 0.3
    waiting = asyncio.ensure_future(holders[2].run("x = 2"))
    await asyncio.sleep(0.05)
    assert not waiting.done() and pool.stats()["waiting"] == 1
    await holders[0].release()
    assert (await waiting).error is None
    assert holders[2].sandbox is holders[0].sandbox and holders[2].sandbox.resets >= 1


async def test_many_agents_at_once_from_loops_and_threads_share_a_small_pool():
    pool = make_pool(max_workers=3)

    async def one(i):
        return await agent(pool, [f"v = {i}", "final_answer(v)"]).arun("go")

    assert await asyncio.gather(*(one(i) for i in range(8))) == [str(i) for i in range(8)]
    results = {}

    def in_thread(i):
        results[i] = agent(pool, [f"v = t{i}", "final_answer(v)"]).run("go")

    threads = [threading.Thread(target=in_thread, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {i: f"t{i}" for i in range(8)}
    gc.collect()  # dropped agents' sandboxes are reset in the background, then idle
    assert wait_until(lambda: pool.stats()["busy"] == 0) and pool.created == 3


async def test_idle_sandboxes_end_after_the_idle_time():
    pool = make_pool(idle_seconds=0.2)
    a = agent(pool, ["a = 1", "final_answer(a)"])
    await a.arun("go")
    sandbox = a.executor.sandbox
    await asyncio.sleep(1.0)
    assert sandbox.closed and pool.stats()["sandboxes"] == 0


def test_a_dropped_agent_gives_its_sandbox_back_fresh():
    pool = make_pool(max_workers=1)
    a = agent(pool, ["x = 1", "final_answer(x)"])
    a.run("go")
    sandbox = a.executor.sandbox
    resets = sandbox.resets
    del a
    gc.collect()
    # Reset at once, before anyone asks (the pool marks it free just after its reset returns).
    assert wait_until(lambda: sandbox.resets == resets + 1 and not pool.sandboxes[0].busy)
    assert sandbox.namespace == {} and pool.sandboxes[0].owner is None


def test_with_block_closes_the_agent_and_its_sandbox_serves_the_next():
    pool = make_pool(max_workers=1)
    with agent(pool, ["a = 1", "final_answer(a)"]) as a:
        a.run("go")
    with pytest.raises(Exception, match="this agent was closed"):
        a.run("again")
    assert agent(pool, ["a = 1", "final_answer(a)"]).run("go") == "1"


def test_shutdown_ends_every_sandbox_and_refuses_new_runs():
    pool = make_pool()
    a = agent(pool, ["a = 1", "final_answer(a)"])
    a.run("go")
    sandbox = a.executor.sandbox
    pool.shutdown()
    assert sandbox.closed
    with pytest.raises(Exception, match="shut down"):
        agent(pool, ["a = 1", "final_answer(a)"]).run("go")


async def test_a_fresh_spare_serves_the_next_agent_while_the_last_one_is_reset():
    class SlowReset(RecordingSandbox):
        async def reset(self):
            if self.runs:
                await asyncio.sleep(0.5)
            await super().reset()

    pool = SandboxPool(PoolSettings(max_workers=3, spares=1), factory=SlowReset)
    first = agent(pool, ["x = 1", "final_answer(x)"])
    await first.arun("go")
    assert wait_until(lambda: pool.stats()["idle"] == 2)  # the run's sandbox, and a spare booted after it
    used = first.executor.sandbox
    resets = used.resets
    await first.close()  # its sandbox is reset in the background now
    started = time.monotonic()
    second = agent(pool, ["final_answer(x)", "x = 2", "final_answer(x)"])
    assert await second.arun("go") == "2"
    assert time.monotonic() - started < 0.4 and second.executor.sandbox is not used  # did not wait for it
    assert wait_until(lambda: used.resets == resets + 1 and used.namespace == {})


async def test_sandboxes_share_processes_up_to_the_limit_and_an_empty_process_ends():
    class Host:
        def __init__(self, **settings):
            self.settings, self.closed = settings, False

        async def aclose(self):
            self.closed = True

    pool = SandboxPool(PoolSettings(max_workers=5, sandboxes_per_process=2, spares=0), factory=RecordingSandbox,
                       host_factory=Host)
    holders = [PooledSandboxExecutor(pool=pool, cache_dir="/c") for _ in range(5)]
    await asyncio.gather(*(holder.run("x = 1") for holder in holders))
    hosts = [holder.sandbox.settings["host"] for holder in holders]
    assert sorted(hosts.count(host) for host in set(hosts)) == [1, 2, 2]
    assert all(host.settings == {"cache_dir": "/c"} for host in hosts)  # host settings go to the host
    assert all("cache_dir" not in holder.sandbox.settings for holder in holders)
    for holder in holders:
        await holder.release()
    assert pool.close_idle() == 5
    assert all(host.closed for host in hosts) and all(holder.sandbox.closed for holder in holders)


async def test_spares_boot_when_the_first_agent_is_made_and_serve_a_burst_without_a_boot():
    class SlowBoot(RecordingSandbox):
        booted_at = None

        async def start(self):
            await asyncio.sleep(0.2)
            self.booted_at = time.monotonic()

    pool = SandboxPool(PoolSettings(max_workers=4, spares=3, idle_seconds=60), factory=SlowBoot)
    first = agent(pool, ["x = 1", "final_answer(x)"])  # no run yet: the pool boots its spares now
    assert pool.stats()["busy"] == 3 and pool.stats()["sandboxes"] == 3
    assert wait_until(lambda: pool.stats()["idle"] == 3)
    burst_started = time.monotonic()
    burst = [first, *(agent(pool, ["x = 1", "final_answer(x)"]) for _ in range(2))]
    assert await asyncio.gather(*(each.arun("go") for each in burst)) == ["1", "1", "1"]
    served = {each.executor.sandbox for each in burst}
    assert len(served) == 3 and all(s.booted_at is not None and s.booted_at < burst_started for s in served)


def test_the_default_spares_are_one_per_core_from_one_to_four(monkeypatch):
    for cores, spares in [(1, 1), (2, 2), (16, 4)]:
        monkeypatch.setattr("os.cpu_count", lambda cores=cores: cores)
        assert PoolSettings().spares == spares
