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
from .memory import (ActionStep, AgentMemory, FinalAnswerStep, MemoryStep, PlanningStep, SystemPromptStep,
                     TaskStep, Timing, ToolCall)
from .messages import (ChatMessage, ChatMessageStreamDelta, ChatMessageToolCall, MessageRole, TokenUsage,
                       ToolCallDelta)
from .models import AnthropicModel, GeminiModel, Model, OpenAIModel, ScriptedModel
from .persistence import FileRunStore, RunRecord, RunStore
from .tools import FinalAnswerTool, Tool, UserInputTool, tool
from .tools.mcp import MCPClient, ToolCollection
from .tools.web import VisitWebpageTool, WebSearchTool, WikipediaSearchTool

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
    "WikipediaSearchTool",
]
