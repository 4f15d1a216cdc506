"""Errors raised or recorded by agents.

Errors the model causes (unparsable output, bad code, bad tool calls) are
recorded on the step and shown to the model as an observation; the run goes
on. Provider failures end the run with `AgentGenerationError`.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base class of every error an agent records or raises."""

    def __init__(self, message: str, logger: object = None):  # logger: smolagents' signature; it logs the error
        super().__init__(message)
        self.message = message
        if logger is not None and hasattr(logger, "log_error"):
            logger.log_error(message)

    def to_dict(self) -> dict:
        return {"type": type(self).__name__, "message": self.message}

    @staticmethod
    def from_dict(data: dict) -> "AgentError":
        cls = _ERROR_CLASSES.get(data.get("type", ""), AgentError)
        return cls(data.get("message", ""))


class AgentParsingError(AgentError):
    """The model's output could not be read as an action."""


class AgentExecutionError(AgentError):
    """The action failed while running (an exception in generated code...)."""


class AgentToolCallError(AgentExecutionError):
    """A tool was called with arguments that do not fit its schema."""


class AgentToolExecutionError(AgentExecutionError):
    """A tool raised while running."""


class AgentMaxStepsError(AgentError):
    """The run used all its steps without a final answer."""


class AgentGenerationError(AgentError):
    """The model provider failed (after retries); the run cannot go on."""


class AgentInterruptedError(AgentError):
    """The run was interrupted by the user."""


class ToolDefinitionError(ValueError):
    """A tool's schema is invalid; raised when the tool or agent is built."""


class ExecutorUnavailableError(RuntimeError):
    """The requested executor cannot run on this platform."""


class PromptTemplateError(ValueError):
    """A prompt template refers to a variable that was not given."""


_ERROR_CLASSES = {
    cls.__name__: cls
    for cls in (
        AgentError,
        AgentParsingError,
        AgentExecutionError,
        AgentToolCallError,
        AgentToolExecutionError,
        AgentMaxStepsError,
        AgentGenerationError,
        AgentInterruptedError,
    )
}
