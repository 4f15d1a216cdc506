"""wasm-agent: a code-writing LLM agent whose loop and executor run in WebAssembly.

>>> from wasm_agent import CodeAgent, ScriptedModel
>>> model = ScriptedModel(["Thought: easy.\\n<code>final_answer(2 ** 10)</code>"])
>>> CodeAgent(tools=[], model=model, executor_type="inprocess").run("What is 2 to the 10th?")
1024
"""

from .agent import ManagedAgentTool, MultiStepAgent
from .code_agent import CodeAgent
from .toolcalling_agent import ToolCallingAgent
from .errors import (AgentError, AgentExecutionError, AgentGenerationError, AgentInterruptedError,
                     AgentMaxStepsError, AgentParsingError, AgentToolCallError, AgentToolExecutionError,
                     ExecutorUnavailableError, ToolDefinitionError)
from .events import ActionOutput, RunResult, ToolOutput
from .executor import CodeOutput, ExecutionLimits, Executor, SandboxExecutor
from .executor.inprocess import InProcessExecutor
from .executor.pool import SandboxPoolTimeoutError, configure_sandboxes
from .memory import (ActionStep, AgentMemory, FinalAnswerStep, MemoryStep, PlanningStep, SystemPromptStep,
                     TaskStep, Timing, ToolCall)
from .messages import (ChatMessage, ChatMessageStreamDelta, ChatMessageToolCall, MessageRole, TokenUsage,
                       ToolCallDelta)
from .models import AnthropicModel, GeminiModel, Model, OpenAIModel, ScriptedModel
from .persistence import FileRunStore, RunRecord, RunStore
from .tools import FinalAnswerTool, Tool, UserInputTool, tool
from .tools.mcp import MCPClient, ToolCollection
from .tools.web import VisitWebpageTool, WebSearchTool, WikipediaSearchTool

# The rest of smolagents' top-level names (docs/smolagents.md has the whole table).
from .agent_types import AgentAudio, AgentImage, AgentText, AgentType, handle_agent_output_types
from .memory import CallbackRegistry
from .messages import (ChatMessageToolCallFunction, agglomerate_stream_deltas, get_clean_message_list,
                       parse_json_if_needed)
from .models import MODEL_REGISTRY, OpenAIServerModel
from .monitoring import AgentLogger, LogLevel, Monitor
from .parsing import BASE_BUILTIN_MODULES, parse_code_blobs
from .prompts import EMPTY_PROMPT_TEMPLATES, populate_template
from .tools import PythonInterpreterTool, validate_tool_arguments
from .tools.base import is_valid_name
from .unavailable import unavailable

# smolagents' Gradio UI: the UI here is the static site (`python -m wasm_agent serve`).
GradioUI = unavailable("GradioUI")
stream_to_gradio = unavailable("stream_to_gradio")

__version__ = "0.1.0"

__all__ = [
    "ActionOutput", "ActionStep", "AnthropicModel", "FileRunStore", "GeminiModel", "OpenAIModel", "RunRecord",
    "RunStore", "SandboxExecutor", "AgentError", "AgentExecutionError", "AgentGenerationError",
    "AgentInterruptedError", "AgentMaxStepsError", "AgentMemory", "AgentParsingError", "AgentToolCallError",
    "AgentToolExecutionError", "ChatMessage", "ChatMessageStreamDelta", "ChatMessageToolCall", "CodeAgent",
    "CodeOutput", "ExecutionLimits", "Executor", "ExecutorUnavailableError", "FinalAnswerStep",
    "FinalAnswerTool", "InProcessExecutor", "ManagedAgentTool", "MemoryStep", "MessageRole", "Model",
    "MultiStepAgent", "PlanningStep", "RunResult", "ScriptedModel", "SystemPromptStep", "TaskStep",
    "Timing", "TokenUsage", "Tool", "ToolCall", "ToolCallDelta", "ToolCallingAgent", "ToolDefinitionError",
    "ToolOutput", "tool", "MCPClient", "ToolCollection", "UserInputTool", "VisitWebpageTool", "WebSearchTool",
    "WikipediaSearchTool", "configure_sandboxes", "SandboxPoolTimeoutError",
    # smolagents' names (docs/smolagents.md)
    "AgentAudio", "AgentImage", "AgentLogger", "AgentText", "AgentType", "MODEL_REGISTRY", "OpenAIServerModel",
    "agglomerate_stream_deltas", "handle_agent_output_types", "BASE_BUILTIN_MODULES", "CallbackRegistry",
    "ChatMessageToolCallFunction", "EMPTY_PROMPT_TEMPLATES", "LogLevel", "Monitor", "PythonInterpreterTool",
    "get_clean_message_list", "is_valid_name", "parse_code_blobs", "parse_json_if_needed", "populate_template",
    "validate_tool_arguments",
]
