"""Three of smolagents' examples (examples/ of its repository, 1.26.0), run with the import changed and
an OpenAI-compatible model: a loopback server that speaks OpenAI's wire format answers for the provider.

What the examples do on the network (weather and currency APIs, web search) is done by tools
of the same names and signatures that answer from a table: a tool's body is the user's code.
"""

import asyncio

import pytest

from wasm_agent import CodeAgent, OpenAIModel, PlanningStep, ToolCallingAgent, tool

pytestmark = pytest.mark.cpython_only


@pytest.fixture(scope="module")
def server():
    from providers.mock import MockProviderServer  # imported here: the Pyodide run never needs it

    with MockProviderServer() as server:
        yield server


@pytest.fixture
def model(server):
    server.reset()
    return OpenAIModel("mock-model", api_base=server.openai_base, api_key="test-key")


def code(text: str) -> str:
    return f"Thought: next step.\n<code>\n{text}\n</code>"


# examples/multiple_tools.py: a CodeAgent with several typed tools.

@tool
def get_weather(location: str, celsius: bool | None = False) -> str:
    """
    Get the current weather at the given location using the WeatherStack API.

    Args:
        location: The location (city name).
        celsius: Whether to return the temperature in Celsius (default is False, which returns Fahrenheit).

    Returns:
        A string describing the current weather at the location.
    """
    temp, unit = (21, "°C") if celsius else (70, "°F")
    return f"The current weather in {location} is Sunny with a temperature of {temp} {unit}."


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> str:
    """
    Converts a specified amount from one currency to another using the ExchangeRate-API.

    Args:
        amount: The amount of money to convert.
        from_currency: The currency code of the currency to convert from (e.g., 'USD').
        to_currency: The currency code of the currency to convert to (e.g., 'EUR').

    Returns:
        str: A string describing the converted amount in the target currency, or an error message if the conversion fails.
    """
    rate = {("USD", "EUR"): 0.9}[(from_currency, to_currency)]
    return f"{amount} {from_currency} is equal to {amount * rate:.2f} {to_currency}."


def test_multiple_tools_example(server, model):
    server.script(code("print(convert_currency(5000, 'USD', 'EUR'))"),
                  code("final_answer(get_weather('Paris', celsius=True))"))
    agent = CodeAgent(tools=[convert_currency, get_weather], model=model, verbosity_level=0)
    answer = agent.run("Convert 5000 dollars to Euros, then tell me the weather in Paris")
    assert answer == "The current weather in Paris is Sunny with a temperature of 21 °C."
    assert "5000 USD is equal to 4500.00 EUR." in agent.memory.steps[1].observations
    first_request = server.requests[0].json
    assert "def convert_currency(amount: float, from_currency: str, to_currency: str) -> str" in \
        first_request["messages"][0]["content"]


# examples/plan_customization/plan_customization.py: a planning-step callback that edits the plan or
# cancels the run, then the run resumed with reset=False.

def test_plan_customization_example(server, model):
    choices = ["modify", "cancel", "approve"]

    def interrupt_after_plan(memory_step, agent):
        if isinstance(memory_step, PlanningStep):
            choice = choices.pop(0)
            if choice == "modify":
                memory_step.plan = "1. Only use search_news once.\n2. Answer."
            elif choice == "cancel":
                agent.interrupt()

    @tool
    def search_news(query: str) -> str:
        """Searches recent news.

        Args:
            query: What to search for.
        """
        return f"3 results for {query}"

    server.script("1. Search the news.\n2. Summarise.\n<end_plan>",
                  code("final_answer(search_news('AI breakthroughs 2024'))"))
    agent = CodeAgent(model=model, tools=[search_news], planning_interval=5,
                      step_callbacks={PlanningStep: interrupt_after_plan}, max_steps=10, verbosity_level=0)
    task = "Search for recent developments in artificial intelligence and summarise the top 3."
    assert agent.run(task) == "3 results for AI breakthroughs 2024"
    action_request = server.requests[1].json["messages"]
    assert any("Only use search_news once" in str(m["content"]) for m in action_request)  # the edited plan

    server.script("1. A plan the user cancels.\n<end_plan>")
    with pytest.raises(Exception) as cancelled:
        agent.run(task)
    assert "interrupted" in str(cancelled.value).lower()
    assert [type(s).__name__ for s in agent.memory.steps] == ["TaskStep", "PlanningStep"]

    server.script("1. Search again.\n<end_plan>", code("final_answer('resumed')"))
    assert agent.run(task, reset=False) == "resumed"
    assert [type(s).__name__ for s in agent.memory.steps] == ["TaskStep", "PlanningStep", "TaskStep",
                                                               "PlanningStep", "ActionStep"]


# examples/async_agent/main.py: an async web app runs the synchronous agent.run in a worker thread
# (anyio.to_thread.run_sync there; asyncio.to_thread is the same call in the standard library).

def test_async_agent_example(server, model):
    server.script(code("final_answer(sum(range(10)))"))

    async def run_agent_in_thread(task: str):
        agent = CodeAgent(model=model, tools=[], verbosity_level=0)
        return await asyncio.to_thread(agent.run, task)

    assert asyncio.run(run_agent_in_thread("Add the numbers from 0 to 9")) == 45


# examples/inspect_multiagent_run.py (without its telemetry): a manager with a managed
# ToolCallingAgent, both returning full results with token usage and timing.

def test_multiagent_run_example(server, model):
    @tool
    def web_search(query: str) -> str:
        """Searches the web.

        Args:
            query: The search query.
        """
        return "US GDP grew 2.8% in 2024."

    server.script(
        code("report = search_agent(task='US GDP growth rate in 2024')\nprint(report)"),
        {"tool_calls": [{"id": "c1", "name": "web_search", "arguments": {"query": "US GDP growth 2024"}}]},
        {"tool_calls": [{"id": "c2", "name": "final_answer", "arguments": {"answer": "2.8%"}}]},
        code("import math\nfinal_answer(round(math.log(2) / math.log(1.028), 1))"))
    search_agent = ToolCallingAgent(tools=[web_search], model=model, name="search_agent",
                                    description="This is an agent that can do web search.",
                                    return_full_result=True, verbosity_level=0)
    manager_agent = CodeAgent(tools=[], model=model, managed_agents=[search_agent], return_full_result=True,
                              verbosity_level=0)
    run_result = manager_agent.run(
        "If the US keeps it 2024 growth rate, how many years would it take for the GDP to double?")
    assert run_result.output == 25.1 and run_result.state == "success"
    assert run_result.token_usage.input_tokens > 0 and run_result.timing.duration > 0
    assert "2.8%" in manager_agent.memory.steps[1].observations
