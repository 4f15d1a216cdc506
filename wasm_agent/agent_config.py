"""An agent as plain data and back (`agent.to_dict()`, `CodeAgent.from_dict(data)`), in smolagents' layout.

The data holds the agent's settings, its model (class name and settings, found
again in `models.MODEL_REGISTRY`), its tools as source code (`Tool.to_dict`)
and its managed agents, nested. Step callbacks and final answer checks are
code the data cannot hold: they are left out, and the logger says so.
"""

from __future__ import annotations

from typing import Any

from .monitoring import LogLevel
from .parsing import BASE_BUILTIN_MODULES
from .tools import Tool


def agent_to_dict(agent: Any) -> dict:
    if agent.final_answer_checks:
        agent.logger.log("This agent has final_answer_checks: to_dict() leaves them out.", level=LogLevel.INFO)
    tools = [tool.to_dict() for name, tool in agent.tools.items() if name != "final_answer"]
    managed = [member.to_dict() for member in agent.managed_agents.values()]
    requirements = {req for tool in tools for req in tool["requirements"]}
    requirements |= {req for member in managed for req in member.get("requirements", ())}
    imports = getattr(agent, "additional_authorized_imports", None)
    requirements |= {name.split(".")[0] for name in imports or () if name not in BASE_BUILTIN_MODULES}
    to_dict = getattr(agent.model, "to_dict", None)
    model_data = to_dict() if callable(to_dict) else {}
    model_data = {k: v for k, v in model_data.items() if k != "class"} if isinstance(model_data, dict) else {}
    data = {
        "class": type(agent).__name__,
        "tools": tools,
        "model": {"class": type(agent.model).__name__, "data": model_data},
        "managed_agents": managed,
        "prompt_templates": agent.prompt_templates,
        "max_steps": agent.max_steps,
        "verbosity_level": int(agent.logger.level),
        "planning_interval": agent.planning_interval,
        "name": agent.name,
        "description": agent.description,
        "requirements": sorted(requirements),
    }
    if imports is not None:
        data.update(authorized_imports=list(imports), executor_type=agent.executor_type,
                    executor_kwargs=dict(agent.executor_kwargs or {}))
    return data


def agent_from_dict(cls: type, data: dict, **overrides: Any) -> Any:
    from .models import MODEL_REGISTRY

    model_info = data["model"]
    model_class = MODEL_REGISTRY.get(model_info["class"])
    if model_class is None:
        raise ValueError(f"Unknown model class {model_info['class']!r}. Supported models: "
                         f"{', '.join(sorted(MODEL_REGISTRY))}")
    members = data.get("managed_agents") or []
    members = list(members.values()) if isinstance(members, dict) else members
    registry = _agent_classes()
    managed = []
    for member in members:
        member_class = registry.get(member.get("class", ""))
        if member_class is None:
            raise ValueError(f"Unknown agent class {member.get('class')!r}. Supported agents: "
                             f"{', '.join(sorted(registry))}")
        managed.append(member_class.from_dict(member))
    arguments: dict[str, Any] = {
        "model": model_class.from_dict(model_info.get("data") or {}),
        "tools": [Tool.from_code(tool["code"]) for tool in data.get("tools", [])],
        "managed_agents": managed,
    }
    for key in ("prompt_templates", "max_steps", "verbosity_level", "planning_interval", "name", "description"):
        if data.get(key) is not None:
            arguments[key] = data[key]
    if "authorized_imports" in data:
        arguments["additional_authorized_imports"] = data["authorized_imports"]
    for key in ("executor_type", "executor_kwargs", "use_structured_outputs_internally"):
        if key in data:
            arguments[key] = data[key]
    arguments.update(overrides)
    return cls(**arguments)


def _agent_classes() -> dict[str, type]:
    from .agent import MultiStepAgent

    found, pending = {}, [MultiStepAgent]
    while pending:
        for subclass in pending.pop().__subclasses__():
            found.setdefault(subclass.__name__, subclass)
            pending.append(subclass)
    return found
