"""Tools: the `Tool` class, the `@tool` decorator and built-in tools."""

from .base import AUTHORIZED_TYPES, Tool, tool
from .builtin import FinalAnswerTool, UserInputTool

__all__ = ["AUTHORIZED_TYPES", "FinalAnswerTool", "Tool", "UserInputTool", "tool"]
