"""A realistic playground project (web/playground/project.js's format) for the share-link and publish
tests: three documented Python tools, a JS tool, instructions and examples, as a person would write them."""

PYTHON_TOOLS = '''"""Tools for a small measurement desk."""

import statistics


@tool
def describe_numbers(values: list[float]) -> dict:
    """Summary statistics of a list of measurements.

    Args:
        values: the measurements, at least two
    """
    if len(values) < 2:
        raise ValueError("give at least two values")
    return {
        "count": len(values),
        "mean": round(statistics.fmean(values), 4),
        "median": statistics.median(values),
        "stdev": round(statistics.stdev(values), 4),
        "min": min(values),
        "max": max(values),
    }


@tool
def find_outliers(values: list[float], threshold: float = 2.0) -> list[float]:
    """The values further than `threshold` standard deviations from the median.

    Args:
        values: the measurements
        threshold: how many standard deviations count as far (default 2)
    """
    centre = statistics.median(values)
    spread = statistics.stdev(values)
    return [value for value in values if abs(value - centre) > threshold * spread]


@tool
def convert_units(value: float, unit: str) -> float:
    """Convert a length to metres.

    Args:
        value: the length
        unit: one of mm, cm, m, km, in, ft
    """
    factors = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "in": 0.0254, "ft": 0.3048}
    if unit not in factors:
        raise ValueError(f"unknown unit {unit!r}; known: {', '.join(factors)}")
    return value * factors[unit]
'''

JS_TOOLS = '''// Tools that run in the visitor's page.
export default [
  {
    name: "page_clock",
    description: "The visitor's local date, time and time zone.",
    inputs: {},
    outputType: "object",
    fn: () => ({ iso: new Date().toISOString(), timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone }),
  },
  {
    name: "label_value",
    description: "A value with its unit, formatted for the visitor's locale.",
    inputs: { value: { type: "number", description: "the value" }, unit: { type: "string", description: "its unit" } },
    outputType: "string",
    fn: ({ value, unit }) => `${value.toLocaleString()} ${unit}`,
  },
];
'''

PROJECT = {
    "format": "wasm-agent-project", "version": 1, "id": "5b0c8a8e-2f1d-4d7e-9a55-0c1f3e7d9b21",
    "name": "Measurement desk", "updated": 1_765_100_000_000,
    "site": {"title": "Measurement desk", "intro": "Summaries, outliers and unit conversions for your measurements.",
             "examples": [{"label": "Outliers", "task": "Describe 12.1, 11.8, 12.6, 13.0, 30.2 and find outliers"},
                          {"label": "", "task": "How many metres are 42 ft?"}]},
    "agent": {"type": "code",
              "instructions": "Answer in one short paragraph. Always use the tools for statistics and "
                              "conversions; never estimate a number you can compute. Say which values are "
                              "outliers and why, and round to two decimals.",
              "max_steps": 6, "planning_interval": None, "authorized_imports": ["statistics", "math"],
              "mcp_servers": [], "python_tools": PYTHON_TOOLS, "js_tools": JS_TOOLS},
    "model": {"provider": "openai", "model": "gpt-4o-mini", "base_url": "https://api.openai.com/v1"},
}
