"""Models: the `Model` interface, the scripted model, and provider clients."""

from ..messages import (ChatMessage, ChatMessageStreamDelta, ChatMessageToolCall, ChatMessageToolCallFunction,
                        MessageRole, TokenUsage, get_clean_message_list, parse_json_if_needed)
from ..unavailable import unavailable
from .base import Model
from .scripted import ScriptedModel

__all__ = ["ChatMessage", "ChatMessageStreamDelta", "ChatMessageToolCall", "ChatMessageToolCallFunction",
           "MessageRole", "Model", "ScriptedModel", "TokenUsage", "get_clean_message_list", "parse_json_if_needed"]

# Provider clients over HTTP (fetch in Pyodide, http.client on CPython).
from .anthropic import AnthropicModel  # noqa: E402
from .gemini import GeminiModel  # noqa: E402
from .openai import OpenAIModel  # noqa: E402
from .retry import RetryPolicy  # noqa: E402

__all__ += ["OpenAIModel", "AnthropicModel", "GeminiModel", "RetryPolicy"]

OpenAIServerModel = OpenAIModel  # smolagents' former name
# The roles smolagents' models send its step roles as (what get_clean_message_list applies).
tool_role_conversions = {MessageRole.TOOL_CALL: MessageRole.ASSISTANT, MessageRole.TOOL_RESPONSE: MessageRole.USER}

# smolagents' in-process and SDK-based models: importable, failing on use with what to use instead.
InferenceClientModel = unavailable("InferenceClientModel")
HfApiModel = unavailable("HfApiModel")
LiteLLMModel = unavailable("LiteLLMModel")
LiteLLMRouterModel = unavailable("LiteLLMRouterModel")
TransformersModel = unavailable("TransformersModel")
VLLMModel = unavailable("VLLMModel")
MLXModel = unavailable("MLXModel")
AmazonBedrockModel = unavailable("AmazonBedrockModel")
AzureOpenAIModel = unavailable("AzureOpenAIModel")
AzureOpenAIServerModel = unavailable("AzureOpenAIServerModel")
AmazonBedrockServerModel = unavailable("AmazonBedrockServerModel")

# Model classes by name, as `MultiStepAgent.from_dict` finds them.
MODEL_REGISTRY: dict[str, type] = {cls.__name__: cls for cls in (
    ScriptedModel, OpenAIModel, OpenAIServerModel, AnthropicModel, GeminiModel, InferenceClientModel, HfApiModel, LiteLLMModel,
    LiteLLMRouterModel, TransformersModel, VLLMModel, MLXModel, AmazonBedrockModel, AmazonBedrockServerModel,
    AzureOpenAIModel, AzureOpenAIServerModel)}
