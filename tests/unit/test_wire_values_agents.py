"""A value from the sandbox becomes a host class only when its own run's tools sent that class in.

Agents of one process share a Deno process, and a pool hands one sandbox to agent after agent. Agent A's
tool gives its code a `Badge` (a host class a host tool trusts); agent B's code, which never got one,
makes a class of the same module and name and sends an instance to its tool and as its final answer.
B must get a stand-in with B's fields, never a `Badge`; A's own badge still comes back as a `Badge`.
"""

import pytest
from badge_tools import Badge, forged_badge_code, issue_badge, open_vault
from deno_sandbox import require_deno_sandbox

from wasm_agent import CodeAgent, ScriptedModel
from wasm_agent.executor.pool import PoolSettings, SandboxPool
from wasm_agent.executor.pooled_executor import PooledSandboxExecutor
from wasm_agent.executor.protocol import RemoteObject
from wasm_agent.persistence import FileRunStore

pytestmark = pytest.mark.cpython_only

sandbox = require_deno_sandbox()

FORGE = forged_badge_code(Badge.__module__)
OWN_ROUND_TRIP = "badge = issue_badge('ann')\nfinal_answer([open_vault(badge), badge])"


def agent(executor, *actions, tools=(issue_badge, open_vault), **options):
    return CodeAgent(list(tools), ScriptedModel([f"<code>\n{action}\n</code>" for action in actions]),
                     executor=executor, verbosity_level=0, **options)


def assert_own_badge_comes_back(answer):
    assert answer[0] == "refused: clearance 1" and type(answer[1]) is Badge
    assert vars(answer[1]) == {"holder": "ann", "clearance": 1}


def assert_forgery_stays_a_stand_in(answer):
    assert answer[0] == "refused: not a badge (Badge)"
    forged = answer[1]
    assert type(forged) is not Badge and isinstance(forged, RemoteObject)
    assert (forged.holder, forged.clearance, repr(forged)) == ("mallory", 9, "Badge(holder='mallory', clearance=9)")


async def test_a_class_another_agents_tool_sent_is_not_rebuilt_for_this_agent():
    host = sandbox.SandboxHost()  # two agents, each with a sandbox of its own, in one Deno process
    owner, attacker = sandbox.DenoSandboxExecutor(host=host), sandbox.DenoSandboxExecutor(host=host)
    try:
        assert_own_badge_comes_back(await agent(owner, OWN_ROUND_TRIP).arun("Get a badge."))
        assert_forgery_stays_a_stand_in(await agent(attacker, FORGE, tools=[open_vault]).arun("Open the vault."))
        assert_own_badge_comes_back(await agent(owner, OWN_ROUND_TRIP).arun("Again."))
    finally:
        await owner.close()
        await attacker.close()
        await host.aclose()


async def test_a_sandbox_the_pool_hands_to_another_agent_forgets_the_classes_it_was_sent():
    pool = SandboxPool(PoolSettings(max_workers=1, spares=0))  # one sandbox: B runs where A ran
    try:
        owner = agent(PooledSandboxExecutor(pool=pool), OWN_ROUND_TRIP)
        assert_own_badge_comes_back(await owner.arun("Get a badge."))
        # B has both tools, and A's run may still be the one the pool remembers: B's forgery stays a stand-in.
        attacker = agent(PooledSandboxExecutor(pool=pool), FORGE)
        assert_forgery_stays_a_stand_in(await attacker.arun("Open the vault."))
        assert pool.created == 1
    finally:
        pool.shutdown()


async def test_a_new_run_rebuilds_only_what_its_own_tools_sent():
    executor = sandbox.DenoSandboxExecutor()
    try:
        own = agent(executor, OWN_ROUND_TRIP, "final_answer(badge)", FORGE)
        assert_own_badge_comes_back(await own.arun("Get a badge."))
        # The same run, continued: the badge is still in the sandbox, and still a Badge.
        again = await own.arun("Show it again.", reset=False)
        assert type(again) is Badge and vars(again) == {"holder": "ann", "clearance": 1}
        # A new run starts in a fresh interpreter: no badge of the last run can be there, so none is rebuilt.
        assert_forgery_stays_a_stand_in(await own.arun("Open the vault."))
        # ...unless the user hands one in.
        back = await agent(executor, "final_answer([open_vault(mine), mine])").arun(
            "Use mine.", additional_args={"mine": Badge("ann", 1)})
        assert_own_badge_comes_back(back)
    finally:
        await executor.close()


def provider_down(messages):
    raise ConnectionError("offline")


async def test_a_resumed_run_rebuilds_only_what_its_own_tools_send(tmp_path):
    executor, store = sandbox.DenoSandboxExecutor(), FileRunStore(tmp_path)
    try:
        interrupted = CodeAgent([issue_badge, open_vault], ScriptedModel(["<code>badge = issue_badge('ann')</code>",
                                                                          provider_down]),
                                executor=executor, run_store=store, verbosity_level=0)
        with pytest.raises(Exception, match="offline"):
            await interrupted.arun("Get a badge, then open the vault.")
        # The resumed run starts in a fresh interpreter (the badge was not JSON: its step is not replayed), and
        # its tools have sent no badge yet: the one its code makes is its own. (Once its tools have sent one,
        # its code may change that badge's fields anyway.)
        resuming = agent(executor, FORGE, run_store=store)
        assert_forgery_stays_a_stand_in(await resuming.aresume(interrupted.run_id))
    finally:
        await executor.close()
