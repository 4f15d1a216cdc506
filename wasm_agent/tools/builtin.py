"""Tools every agent has."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable

from ..errors import AgentToolExecutionError
from ..platform import IN_PYODIDE
from .base import Tool


class FinalAnswerTool(Tool):
    """Ends the run with the given answer. Every agent has it as `final_answer`."""

    name = "final_answer"
    description = "Provides a final answer to the given problem."
    inputs = {"answer": {"type": "any", "description": "The final answer to the problem"}}
    output_type = "any"

    def forward(self, answer: Any) -> Any:
        return answer


class UserInputTool(Tool):
    """Asks the person running the agent a question; the model's code calls `user_input("…")`.

    Who answers depends on where the agent runs: `ask` (sync or async, question → answer) when
    given, which is how a page answers (`createAgent({onUserInput})`, a dialog in the chat); else
    the terminal on CPython.

    >>> UserInputTool(ask=lambda question: "blue").name
    'user_input'
    """

    name = "user_input"
    description = "Asks for user's input on a specific question"
    inputs = {"question": {"type": "string", "description": "The question to ask the user"}}
    output_type = "string"

    def __init__(self, ask: Callable[[str], Any] | None = None):
        self.ask = ask
        super().__init__()

    async def forward(self, question: str) -> str:
        if self.ask is not None:
            answer = self.ask(question)
            return str(await answer if inspect.isawaitable(answer) else answer)
        if IN_PYODIDE:
            raise AgentToolExecutionError("nobody can answer here: give UserInputTool an `ask` function "
                                          "(in a page: createAgent({onUserInput}))")
        # a thread, so that the agent's event loop (interrupts, other tools) keeps going meanwhile
        return await asyncio.to_thread(input, f"{question} => Type your answer here: ")


class PythonInterpreterTool(Tool):
    """Runs Python code in the WASM sandbox (smolagents' `python_interpreter`, for ToolCallingAgent).

    The sandbox starts on first use and keeps its variables between calls.
    """

    name = "python_interpreter"
    description = ("This is a tool that evaluates python code. It can be used to perform calculations. "
                   "The code runs in an isolated sandbox: it cannot reach the network or files.")
    inputs = {"code": {"type": "string", "description": "The python code to run in interpreter"}}
    output_type = "string"

    def __init__(self, *args: Any, authorized_imports: list[str] | None = None, executor: Any = None,
                 **kwargs: Any):
        super().__init__()
        self.authorized_imports = list(authorized_imports or ())
        self.executor = executor

    async def forward(self, code: str) -> str:
        if self.executor is None:
            from ..executor import create_executor

            self.executor = create_executor("sandbox", additional_authorized_imports=self.authorized_imports)
        result = await self.executor.run(code)
        if result.error is not None:
            raise RuntimeError(result.error)
        return f"Stdout:\n{result.logs}\nOutput: {result.output}"
