"""smolagents names with no counterpart here: importable, so that code written for smolagents
loads, and failing on first use with what to do instead (docs/smolagents.md has the whole table).

>>> from wasm_agent.models import InferenceClientModel
>>> InferenceClientModel("Qwen/Qwen2.5-Coder-32B-Instruct")
Traceback (most recent call last):
...
NotImplementedError: InferenceClientModel is smolagents' client of huggingface_hub; here, use OpenAIModel(model_id, api_base="https://router.huggingface.co/v1", api_key=<your HF token>)
"""

from __future__ import annotations

from typing import Any, NoReturn

_HUB_ROUTER = 'OpenAIModel(model_id, api_base="https://router.huggingface.co/v1", api_key=<your HF token>)'
_LOCAL_SERVER = 'OpenAIModel(model_id, api_base=<the OpenAI-compatible URL of your server>)'
_NO_WEB = ("a page cannot call this search service (it sends no CORS headers; docs/tools.md says why); "
           "use WebSearchTool(endpoint) with a search API that allows it, or write a @tool for the service you trust")

# What an agent's push_to_hub/from_hub say: there is no Space running Python here; a site is published.
HUB_ADVICE = ("push_to_hub/from_hub exchange an agent with a Hugging Face Space that runs it with Python and "
              "Gradio; a wasm-agent agent is published as a static site instead: describe it in an agent.toml "
              "(`wasm-agent init`; `agent.to_dict()` gives its settings), build it with `wasm-agent build --config "
              "agent.toml`, and put dist/ on any static host (a static Hugging Face Space, GitHub Pages, …)")

REASONS: dict[str, str] = {
    "InferenceClientModel": f"smolagents' client of huggingface_hub; here, use {_HUB_ROUTER}",
    "HfApiModel": f"smolagents' old name of InferenceClientModel; here, use {_HUB_ROUTER}",
    "LiteLLMModel": "smolagents' client of LiteLLM (not installable in Pyodide); here, use OpenAIModel, "
                    "AnthropicModel or GeminiModel, or OpenAIModel against a LiteLLM proxy",
    "LiteLLMRouterModel": "smolagents' client of LiteLLM's router; here, use OpenAIModel against a LiteLLM proxy",
    "TransformersModel": "runs torch models in-process, which WebAssembly cannot; here, serve the model with "
                         f"an OpenAI-compatible server and use {_LOCAL_SERVER}, or BrowserModel in a page",
    "VLLMModel": f"runs vLLM in-process; here, start vLLM's OpenAI-compatible server and use {_LOCAL_SERVER}",
    "MLXModel": f"runs MLX in-process; here, start mlx_lm.server and use {_LOCAL_SERVER}",
    "AmazonBedrockModel": "needs boto3 and AWS request signing; here, use Bedrock's OpenAI-compatible endpoint "
                          "with OpenAIModel",
    "AzureOpenAIModel": "here, use OpenAIModel(model_id, api_base=<your Azure deployment's /openai/v1 URL>, "
                        "api_key=<key>)",
    "AzureOpenAIServerModel": "smolagents' former name of AzureOpenAIModel; here, use OpenAIModel with your "
                              "Azure deployment's /openai/v1 URL",
    "AmazonBedrockServerModel": "smolagents' former name of AmazonBedrockModel; here, use Bedrock's "
                                "OpenAI-compatible endpoint with OpenAIModel",
    "DuckDuckGoSearchTool": _NO_WEB,
    "GoogleSearchTool": _NO_WEB,
    "ApiWebSearchTool": _NO_WEB,
    "SpeechToTextTool": "runs a transformers model in-process; write a @tool that calls a speech-to-text API",
    "GradioUI": "wasm-agent's UI is its static site (python -m wasm_agent serve) and the <wasm-agent> element",
    "stream_to_gradio": "wasm-agent's UI is its static site (python -m wasm_agent serve); iterate "
                        "agent.run(task, stream=True) for the same events",
    "launch_gradio_demo": "wasm-agent's UI is its static site (python -m wasm_agent serve)",
    "load_tool": "loads tools from the Hugging Face Hub, which wasm-agent does not use; import the tool's "
                 "code, or Tool.from_code(source)",
    "E2BExecutor": "here, code runs in the WASM sandbox (executor_type='sandbox', the default)",
    "DockerExecutor": "here, code runs in the WASM sandbox (executor_type='sandbox', the default)",
    "ModalExecutor": "here, code runs in the WASM sandbox (executor_type='sandbox', the default)",
    "LocalPythonExecutor": "smolagents' AST interpreter is not a boundary; here, code runs in the WASM sandbox "
                           "(the default) or, for trusted code, InProcessExecutor",
}


def unavailable(name: str) -> type:
    """A class named `name` that can be imported and subclassed, and fails when used."""
    reason = REASONS[name]

    def fail(*_: Any, **__: Any) -> NoReturn:
        raise NotImplementedError(f"{name} is {reason}")

    return type(name, (), {"__init__": fail, "__doc__": f"Not available in wasm-agent: {reason}.",
                           "from_hub": classmethod(fail), "from_space": classmethod(fail)})
