"""What an agent can call: its tools, built from `Tool`s or plain functions, and its managed agents."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from .errors import ToolDefinitionError
from .prompts import render
from .tools import FinalAnswerTool, Tool, tool as make_tool

if TYPE_CHECKING:
    from .agent import MultiStepAgent


class ManagedAgentTool(Tool):
    """Lets a manager call an agent like a tool: task in, report out."""

    output_type = "string"

    def __init__(self, agent: MultiStepAgent):
        self.agent = agent
        self.name, self.description = agent.name or "", str(agent.description or "")
        self.inputs = {
            "task": {"type": "string", "description": "The task, in detail: the member sees only this."},
            "additional_args": {"type": "object", "nullable": True,
                                "description": "Data to pass to the member, as variables."},
        }
        super().__init__()

    async def forward(self, task: str, additional_args: dict | None = None) -> str:
        full_task = render(self.agent.prompt_templates["managed_agent"]["task"], name=self.name, task=task)
        return self.agent.managed_report(await self.agent.arun(full_task, additional_args=additional_args))


def build_tools(tools: Iterable[Tool | Callable]) -> dict[str, Tool]:
    """The agent's tools by name, functions made into tools, each validated, `final_answer` added."""
    built: dict[str, Tool] = {}
    for item in tools:
        if not isinstance(item, Tool):
            if not callable(item):
                raise ToolDefinitionError(f"{item!r} is not a Tool or a function")
            item = make_tool(item)
        item.validate()
        if item.name in built:
            raise ToolDefinitionError(f"two tools are named {item.name!r}")
        built[item.name] = item
    built.setdefault("final_answer", FinalAnswerTool())
    return built


def build_callables(tools: dict[str, Tool], managed_agents: dict[str, MultiStepAgent],
                    agent_name: str | None) -> dict[str, Tool]:
    """Tools and managed agents under one namespace, refusing nameless members and clashing names."""
    for member_name, member in managed_agents.items():
        if not member_name or not member.description:
            raise ToolDefinitionError("a managed agent needs a `name` and a `description`")
        if member_name in tools:
            raise ToolDefinitionError(f"managed agent {member_name!r} has the name of a tool")
    callables: dict[str, Tool] = {**tools, **{n: ManagedAgentTool(a) for n, a in managed_agents.items()}}
    if agent_name is not None and agent_name in callables:
        raise ToolDefinitionError(f"agent name {agent_name!r} is also the name of one of its tools")
    return callables
