"""Tools: the `Tool` class, the `@tool` decorator and built-in tools."""

from ..unavailable import unavailable
from .base import AUTHORIZED_TYPES, Tool, tool, validate_tool_arguments
from .builtin import FinalAnswerTool, PythonInterpreterTool, UserInputTool
from .mcp import MCPClient, ToolCollection
from .web import VisitWebpageTool, WebSearchTool, WikipediaSearchTool

__all__ = ["AUTHORIZED_TYPES", "FinalAnswerTool", "MCPClient", "PythonInterpreterTool", "Tool", "ToolCollection",
           "UserInputTool", "VisitWebpageTool", "WebSearchTool", "WikipediaSearchTool", "tool", "validate_tool_arguments"]

# smolagents' tools that cannot work here, and its Gradio launcher: importable, failing on use with
# what to do instead (docs/tools.md says why a page cannot call DuckDuckGo or Google).
DuckDuckGoSearchTool = unavailable("DuckDuckGoSearchTool")
GoogleSearchTool = unavailable("GoogleSearchTool")
ApiWebSearchTool = unavailable("ApiWebSearchTool")
SpeechToTextTool = unavailable("SpeechToTextTool")
launch_gradio_demo = unavailable("launch_gradio_demo")
load_tool = unavailable("load_tool")

