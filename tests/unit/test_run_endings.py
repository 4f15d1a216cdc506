"""How runs end: a small model gives up plainly, Stop reaches the last-answer call, a stopped run resumes."""

import asyncio

import pytest

from wasm_agent import ActionStep, CodeAgent, ScriptedModel
from wasm_agent.errors import AgentMaxStepsError
from wasm_agent.persistence import FileRunStore


def code(body: str) -> str:
    return f"Thought: go.\n<code>\n{body}\n</code>"


def small_model(responses, **kwargs):
    model = ScriptedModel(responses, **kwargs)
    model.prompt_variant = "small"  # what the in-browser default model asks for
    return model


async def test_a_small_model_stops_when_a_step_fails_exactly_like_the_one_before():
    model = small_model([code("print(undefined_name)")] * 5)
    agent = CodeAgent([], model, executor_type="inprocess", max_steps=5)
    result = await agent.arun("Do it", return_full_result=True)
    assert (result.state, result.output) == ("max_steps_error", None)
    assert len(model.calls) == 2  # no third try, no "best answer" call
    last = agent.memory.steps[-1]  # memory keeps the steps that happened, as in smolagents
    assert isinstance(last.error, AgentMaxStepsError)
    assert "No answer found: step 2 failed exactly like the step before it" in last.error.message


async def test_a_small_model_says_it_found_no_answer_instead_of_a_best_answer_ramble():
    model = small_model([code("print(1 / 0)"), code("print(undefined)"), code("print([][1])")])
    agent = CodeAgent([], model, executor_type="inprocess", max_steps=3)
    result = await agent.arun("Do it", return_full_result=True)
    assert (result.state, result.output) == ("max_steps_error", None)
    assert len(model.calls) == 3
    assert "No answer found: 3 steps gave no answer" in agent.memory.steps[-1].error.message


async def test_other_models_still_get_a_last_answer_attempt_and_may_repeat():
    model = ScriptedModel([code("print(undefined)")] * 3 + ["The best I can say: 4."])
    agent = CodeAgent([], model, executor_type="inprocess", max_steps=3)
    result = await agent.arun("Do it", return_full_result=True)
    assert (result.state, result.output) == ("max_steps_error", "The best I can say: 4.")
    assert len(model.calls) == 4


async def test_stop_during_the_last_answer_attempt_ends_the_run_as_stopped():
    asked = asyncio.Event()

    async def never_answers(messages):
        asked.set()
        await asyncio.sleep(3600)

    model = ScriptedModel([code("x = 1"), never_answers])
    agent = CodeAgent([], model, executor_type="inprocess", max_steps=1)
    run = asyncio.ensure_future(agent.arun("Do it", return_full_result=True))
    await asyncio.wait_for(asked.wait(), 5)
    agent.interrupt()
    result = await asyncio.wait_for(run, 5)
    assert result.state == "interrupted"


async def test_resume_after_stop_calls_the_model_and_finishes(tmp_path):
    store = FileRunStore(tmp_path)
    model = ScriptedModel([code("x = 20"), code("final_answer(x + 1)")])

    def stop_after_first_step(step, agent):
        if isinstance(step, ActionStep):
            agent.interrupt()

    agent = CodeAgent([], model, executor_type="inprocess", run_store=store, max_steps=5,
                      step_callbacks=[stop_after_first_step])
    stopped = await agent.arun("Add one to twenty", return_full_result=True)
    assert stopped.state == "interrupted" and len(model.calls) == 1
    run_id = agent.run_id
    assert (await store.get_run(run_id)).status == "interrupted"

    fresh = CodeAgent([], model, executor_type="inprocess", run_store=store, max_steps=5)
    assert await fresh.aresume(run_id) == 21
    assert len(model.calls) == 2
    assert (await store.get_run(run_id)).status == "success"


CTRL_C_DURING_A_MODEL_CALL = """
import asyncio, os, signal, time
from wasm_agent import CodeAgent, ScriptedModel

async def slow_model(messages):
    os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C while the model thinks
    await asyncio.sleep(30)

agent = CodeAgent([], ScriptedModel([slow_model]), executor_type="inprocess", verbosity_level=0)
started = time.monotonic()
try:
    agent.run("Think")
except KeyboardInterrupt:
    print("interrupted after", round(time.monotonic() - started), "s")
print("handler restored:", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
again = CodeAgent([], ScriptedModel(["<code>final_answer(6 * 7)</code>"]), executor_type="inprocess", verbosity_level=0)
print("next run:", again.run("Multiply"))
"""


@pytest.mark.cpython_only
def test_ctrl_c_during_a_blocking_run_interrupts_it_and_the_next_run_works():
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run([sys.executable, "-c", CTRL_C_DURING_A_MODEL_CALL], capture_output=True, text=True,
                            timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.splitlines() == ["interrupted after 0 s", "handler restored: True", "next run: 42"], \
        result.stderr
