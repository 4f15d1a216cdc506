import asyncio

import pytest
from sample_tools import add, divide

from wasm_agent import (
    ActionOutput,
    ActionStep,
    AgentExecutionError,
    AgentGenerationError,
    AgentMaxStepsError,
    AgentParsingError,
    ChatMessage,
    ChatMessageStreamDelta,
    CodeAgent,
    FinalAnswerStep,
    PlanningStep,
    ScriptedModel,
    TokenUsage,
    ToolCall,
    ToolOutput,
    tool,
)
from wasm_agent.errors import AgentToolExecutionError, ExecutorUnavailableError


def code(body: str, thought: str = "I act.") -> str:
    return f"Thought: {thought}\n<code>\n{body}\n</code>"


def agent_for(responses, tools=(add,), **kwargs):
    kwargs.setdefault("executor_type", "inprocess")
    return CodeAgent(list(tools), ScriptedModel(responses), **kwargs)


async def test_state_persists_between_steps_and_output_is_observed():
    agent = agent_for([code("x = add(2, 3)\nprint('x is', x)"), code("final_answer(x * 10)")])
    result = await agent.arun("Compute", return_full_result=True)
    assert (result.output, result.state) == (50, "success")
    first = agent.memory.steps[1]
    assert isinstance(first, ActionStep)
    assert first.code_action == "x = add(2, 3)\nprint('x is', x)"
    assert first.observations.startswith("Execution logs:\nx is 5")
    second_call = agent.model.calls[1]["messages"]
    assert second_call[-1].text.startswith("Observation:\nExecution logs:\nx is 5")
    assert agent.model.calls[0]["stop_sequences"] == ["Observation:", "Calling tools:", "</code>"]


async def test_python_error_becomes_an_observation_and_the_run_goes_on():
    agent = agent_for([code("y = 1 / 0"), code("final_answer('recovered')")])
    assert await agent.arun("Go") == "recovered"
    step = agent.memory.steps[1]
    assert isinstance(step.error, AgentExecutionError)
    assert "ZeroDivisionError" in step.error.message and "line 1" in step.error.message
    retry_prompt = agent.model.calls[1]["messages"][-1].text
    assert retry_prompt.startswith("Error:\n") and "ZeroDivisionError" in retry_prompt


async def test_logs_printed_before_an_error_are_kept():
    agent = agent_for([code("print('started')\nraise ValueError('bad value')"), code("final_answer(1)")])
    await agent.arun("Go")
    feedback = "\n".join(m.text for m in agent.model.calls[1]["messages"][-2:])  # the logs, then the error
    assert "started" in feedback and "ValueError: bad value" in feedback


async def test_output_without_code_block_tells_the_model_the_format():
    agent = agent_for(["The answer is 4.", code("final_answer(4)")])
    assert await agent.arun("2+2?") == 4
    assert isinstance(agent.memory.steps[1].error, AgentParsingError)
    assert "<code>" in agent.model.calls[1]["messages"][-1].text


async def test_syntax_error_is_reported_with_the_line():
    agent = agent_for([code("x = (1 +"), code("final_answer(2)")])
    await agent.arun("Go")
    assert "SyntaxError" in agent.memory.steps[1].error.message


async def test_fenced_block_and_closing_tag_eaten_by_stop_sequence():
    agent = agent_for(["Thought: ok\n```python\nz = 7\n```", "Thought: done\n<code>\nfinal_answer(z)\n</code>"])
    assert await agent.arun("Go") == 7
    assert agent.memory.steps[2].model_output.endswith("</code>")


async def test_bad_tool_arguments_become_an_observation():
    agent = agent_for([code("add(1)"), code("add('a', 'b')"), code("final_answer(add(a=1, b=2))")])
    assert await agent.arun("Go") == 3
    assert "missing the required argument 'b'" in agent.memory.steps[1].error.message
    assert "should be integer" in agent.memory.steps[2].error.message


async def test_tool_exception_names_the_tool():
    agent = agent_for([code("divide(1, 0)"), code("final_answer('ok')")], tools=[divide])
    await agent.arun("Go")
    message = agent.memory.steps[1].error.message
    assert "tool 'divide' failed: ZeroDivisionError" in message


async def test_async_tools_are_callable_from_code():
    @tool
    async def fetch_number(name: str) -> int:
        """Look a number up.

        Args:
            name: Its name.
        """
        await asyncio.sleep(0)
        return {"answer": 42}[name]

    agent = agent_for([code("final_answer(fetch_number('answer'))")], tools=[fetch_number])
    assert await agent.arun("Go") == 42


async def test_max_steps_makes_one_last_answer_attempt_and_records_the_error():
    agent = agent_for([code("x = 1"), code("x = 2"), "My best answer is 2."], max_steps=2)
    result = await agent.arun("Never finishes", return_full_result=True)
    assert (result.output, result.state) == ("My best answer is 2.", "max_steps_error")
    last = agent.memory.steps[-1]
    assert isinstance(last.error, AgentMaxStepsError)
    assert last.action_output == "My best answer is 2."
    assert "Never finishes" in agent.model.calls[2]["messages"][-1].text


async def test_final_answer_checks_can_refuse_an_answer():
    def must_be_even(answer, memory):
        return answer % 2 == 0

    agent = agent_for([code("final_answer(3)"), code("final_answer(4)")], final_answer_checks=[must_be_even])
    assert await agent.arun("Give an even number") == 4
    assert "must_be_even" in agent.memory.steps[1].error.message


async def test_step_callbacks_see_each_step_and_the_agent():
    seen = []
    agent = agent_for([code("x = 1"), code("final_answer(x)")],
                      step_callbacks=[lambda step, agent: seen.append((type(step).__name__, agent.step_number))])
    await agent.arun("Go")
    assert seen == [("ActionStep", 2), ("ActionStep", 3)]  # a plain list: action steps, as in smolagents


async def test_step_callbacks_by_step_type():
    actions = []
    agent = agent_for([code("final_answer(1)")], step_callbacks={ActionStep: actions.append})
    await agent.arun("Go")
    assert len(actions) == 1 and actions[0].is_final_answer


async def test_planning_interval_plans_first_and_then_updates():
    responses = ["1. Add.\n<end_plan>", code("x = 1"), code("x += 1"),
                 "1. Finish.\n<end_plan>", code("final_answer(x)")]
    agent = agent_for(responses, planning_interval=2)
    assert await agent.arun("Count to two") == 2
    plans = [s for s in agent.memory.steps if isinstance(s, PlanningStep)]
    assert [p.plan for p in plans] == ["1. Add.", "1. Finish."]
    assert agent.model.calls[0]["stop_sequences"] == ["<end_plan>"]
    assert "Count to two" in agent.model.calls[0]["messages"][0].text
    assert "1 steps left" not in agent.model.calls[3]["messages"][-1].content


async def test_instructions_and_authorized_imports_reach_the_system_prompt():
    agent = agent_for([code("final_answer(1)")], instructions="Answer in French.",
                      additional_authorized_imports=["statistics"])
    prompt = agent.memory.system_prompt.system_prompt
    assert "Answer in French." in prompt and "statistics" in prompt
    assert "def add(a: int, b: int) -> int:" in prompt


async def test_additional_args_are_variables_in_the_code():
    agent = agent_for([code("final_answer(numbers[-1] + offset)")])
    assert await agent.arun("Use the data", additional_args={"numbers": [1, 2, 3], "offset": 10}) == 13
    assert "numbers" in agent.memory.steps[0].task


async def test_reset_false_continues_with_memory_and_variables():
    agent = agent_for([code("total = 5\nfinal_answer(total)"), code("final_answer(total + 1)")])
    assert await agent.arun("First") == 5
    assert await agent.arun("Add one to five", reset=False) == 6
    tasks = [m.text for m in agent.model.calls[1]["messages"] if m.role.value == "user"]
    assert tasks[0] == "New task:\nFirst" and tasks[-1] == "New task:\nAdd one to five"


async def test_run_can_resume_from_saved_memory():
    from wasm_agent import AgentMemory

    first = agent_for([code("x = 1")], max_steps=1)
    first.model.responses.append("gave up")
    await first.arun("Long task")
    saved = first.memory.to_dict()
    second = agent_for([code("final_answer('done')")])
    second.memory = AgentMemory.from_dict(saved)
    assert await second.arun(None, reset=False) == "done"
    assert second.model.calls[0]["messages"][1].text == "New task:\nLong task"


async def test_stream_yields_calls_outputs_steps_and_final_answer():
    agent = agent_for([code("final_answer(add(1, 1))")])
    events = [event async for event in agent.stream("Go")]
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["ChatMessageStreamDelta", "ToolCall", "ToolOutput", "ActionOutput", "ActionStep",
                     "FinalAnswerStep"]
    assert events[0].content == "Thought: I act.\n<code>\nfinal_answer(add(1, 1))\n"  # before the action runs
    assert isinstance(events[1], ToolCall) and events[1].arguments == "final_answer(add(1, 1))"
    assert isinstance(events[2], ToolOutput) and events[2].is_final_answer
    assert isinstance(events[3], ActionOutput) and events[3].output == 2
    assert isinstance(events[-1], FinalAnswerStep) and events[-1].output == 2


async def test_stream_outputs_yields_model_deltas():
    class Streaming(ScriptedModel):
        async def generate_stream(self, messages, **kwargs):
            for piece in ["Thought: go\n<code>", "final_answer(9)", "</code>"]:
                yield ChatMessageStreamDelta(content=piece)
            yield ChatMessageStreamDelta(token_usage=TokenUsage(3, 3))

    agent = CodeAgent([], Streaming([]), executor_type="inprocess", stream_outputs=True)
    events = [e async for e in agent.stream("Go")]
    deltas = [e.content for e in events if isinstance(e, ChatMessageStreamDelta) and e.content]
    assert deltas == ["Thought: go\n<code>", "final_answer(9)", "</code>"]
    assert events[-1].output == 9
    assert agent.memory.steps[1].token_usage == TokenUsage(3, 3)


def test_sync_run_and_sync_stream():
    agent = agent_for([code("final_answer('sync')")])
    assert agent.run("Go") == "sync"
    agent = agent_for([code("final_answer('streamed')")])
    events = list(agent.run("Go", stream=True))
    assert events[-1].output == "streamed"


async def test_sync_run_inside_a_running_loop_points_to_arun_where_it_cannot_block():
    from wasm_agent.platform import IN_PYODIDE

    agent = agent_for([code("final_answer(1)")])
    if IN_PYODIDE:  # entered through runPythonAsync, JSPI lets sync code wait
        assert agent.run("Go") == 1
    else:
        with pytest.raises(RuntimeError, match="arun"):
            agent.run("Go")


async def test_token_usage_is_summed_and_timing_recorded():
    agent = agent_for([ChatMessage(role="assistant", content=code("x = 1"), token_usage=TokenUsage(100, 10)),
                       ChatMessage(role="assistant", content=code("final_answer(x)"),
                                   token_usage=TokenUsage(150, 20))])
    result = await agent.arun("Go", return_full_result=True)
    assert result.token_usage == TokenUsage(250, 30)
    assert result.timing.duration >= 0
    assert all(step["timing"]["duration"] is not None for step in result.steps if step["type"] == "action")


async def test_provider_failure_ends_the_run_with_generation_error():
    def failing(messages):
        raise ConnectionError("provider unreachable")

    agent = agent_for([failing])
    with pytest.raises(AgentGenerationError, match="provider unreachable"):
        await agent.arun("Go")
    assert isinstance(agent.memory.steps[-1].error, AgentGenerationError)


async def test_managed_agent_is_called_like_a_tool():
    worker = agent_for([code("final_answer('the moon is 384400 km away')")],
                       name="researcher", description="Finds facts.")
    manager = agent_for([code("report = researcher(task='How far is the moon?')\nprint(report)"),
                         code("final_answer(report.splitlines()[-1])")], tools=[],
                        managed_agents=[worker])
    assert "def researcher(task: str" in manager.memory.system_prompt.system_prompt
    assert await manager.arun("Moon distance?") == "the moon is 384400 km away"
    assert "How far is the moon?" in worker.memory.steps[0].task
    assert "managed agent 'researcher'" in manager.memory.steps[1].observations


async def test_interrupt_from_a_callback_stops_before_the_next_step():
    agent = agent_for([code("x = 1"), code("final_answer(x)")],
                      step_callbacks={ActionStep: lambda step, agent: agent.interrupt()})
    result = await agent.arun("Go", return_full_result=True)
    assert result.state == "interrupted" and result.output is None
    assert len(agent.model.calls) == 1


async def test_interrupt_stops_a_slow_model_call():
    async def slow(messages):
        await asyncio.sleep(30)
        return code("final_answer(1)")

    agent = agent_for([slow])
    asyncio.get_running_loop().call_later(0.05, agent.interrupt)
    result = await agent.arun("Go", return_full_result=True)
    assert result.state == "interrupted"
    assert "interrupted" in agent.memory.steps[1].error.message


@pytest.mark.cpython_only
async def test_interrupt_stops_an_endless_loop_and_keeps_variables():
    agent = agent_for([code("kept = 1\nwhile True:\n    pass")])
    asyncio.get_running_loop().call_later(0.2, agent.interrupt)
    result = await agent.arun("Spin", return_full_result=True)
    assert result.state == "interrupted"
    agent.model.responses.append(code("final_answer(kept)"))
    assert await agent.arun("Continue", reset=False) == 1


async def test_tools_as_plain_functions_and_duplicate_names():
    def shout(text: str) -> str:
        """Upper-case text.

        Args:
            text: The text.
        """
        return text.upper()

    agent = agent_for([code("final_answer(shout('hi'))")], tools=[shout])
    assert await agent.arun("Go") == "HI"
    from wasm_agent import ToolDefinitionError

    with pytest.raises(ToolDefinitionError, match="two tools"):
        agent_for([], tools=[add, add])


def test_sandbox_executor_never_falls_back_silently(monkeypatch):
    import wasm_agent.executor as executor

    monkeypatch.setattr(executor, "_sandbox_factory", None)
    monkeypatch.setattr(executor, "_platform_sandbox_factory", lambda: None)
    with pytest.raises(ExecutorUnavailableError, match="inprocess"):
        CodeAgent([], ScriptedModel([]))


@pytest.mark.cpython_only
def test_sync_run_stops_an_endless_loop_at_the_time_limit_and_goes_on():
    from wasm_agent import ExecutionLimits, InProcessExecutor

    executor = InProcessExecutor(limits=ExecutionLimits(timeout_seconds=0.2))
    agent = agent_for([code("n = 0\nwhile True:\n    n += 1"), code("final_answer(n > 0)")], executor=executor)
    assert agent.run("Spin") is True
    assert "0.2 s time limit" in agent.memory.steps[1].error.message


@pytest.mark.cpython_only
def test_interrupt_from_another_thread_stops_a_sync_run_inside_running_code():
    import threading

    agent = agent_for([code("while True:\n    pass")])
    threading.Timer(0.2, agent.interrupt).start()
    result = agent.run("Spin", return_full_result=True)
    assert result.state == "interrupted"
    assert len(agent.model.calls) == 1


async def test_a_model_can_ask_for_a_prompt_variant_with_few_shot_turns(tmp_path, monkeypatch):
    from wasm_agent import prompts

    real = prompts.load_prompts

    def load(name):
        if name == "code_agent_tiny":
            return {"system_prompt": "Write code. Tools:\n{{tools}}",
                    "few_shot": [{"role": "user", "content": "New task:\n1+1?"},
                                 {"role": "assistant", "content": "<code>final_answer(1 + 1)</code>"}]}
        return real(name)

    monkeypatch.setattr("wasm_agent.agent.load_prompts", load)
    model = ScriptedModel([code("final_answer(3)")])
    model.prompt_variant = "tiny"
    agent = CodeAgent([], model, executor_type="inprocess")
    assert await agent.arun("1+2?") == 3
    sent = [(m.role.value, m.text) for m in model.calls[0]["messages"]]
    assert sent[0][1].startswith("Write code. Tools:\ndef final_answer")
    assert sent[1:] == [("user", "New task:\n1+1?"), ("assistant", "<code>final_answer(1 + 1)</code>"),
                        ("user", "New task:\n1+2?")]
    again = type(agent.memory).from_dict(agent.memory.to_dict())
    assert [m.text for m in again.to_messages()][:3] == [m for _, m in sent[:3]]


@pytest.mark.parametrize("authorized, note", [
    ([], "'wa_missing' is not among the modules this agent may import (beyond the standard library, it may import: nothing)."),
    (["numpy"], "it may import: numpy)."),
    (["wa_missing"], None),  # authorized but absent: the error alone (the developer's log says what to do)
])
def test_an_import_the_agent_may_not_make_is_named_in_the_observation(authorized, note):
    model = ScriptedModel([code("import wa_missing.sub"), code("final_answer('without it')")])
    agent = CodeAgent([], model, executor_type="inprocess", additional_authorized_imports=authorized)
    assert agent.run("Use wa_missing.") == "without it"
    error = str(agent.memory.steps[1].error)
    assert "No module named 'wa_missing'" in error
    assert (note in error) if note else "may import" not in error
