"""Models: the `Model` interface, the scripted model, and provider clients."""

from .base import Model
from .scripted import ScriptedModel

__all__ = ["Model", "ScriptedModel"]

# Provider clients over HTTP (fetch in Pyodide, http.client on CPython).
from .anthropic import AnthropicModel  # noqa: E402
from .gemini import GeminiModel  # noqa: E402
from .openai import OpenAIModel  # noqa: E402
from .retry import RetryPolicy  # noqa: E402

__all__ += ["OpenAIModel", "AnthropicModel", "GeminiModel", "RetryPolicy"]
