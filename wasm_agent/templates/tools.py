"""Python tools of the site's agent. Each top-level @tool function becomes a tool: it runs in the
agent worker (Pyodide in the visitor's tab), and the model's code calls it like a function.
Type hints and the Args section of the docstring are the tool's schema."""

import statistics


@tool
def describe_numbers(numbers: list) -> dict:
    """Summary statistics of a list of numbers: count, mean, median, standard deviation, min and max.

    Args:
        numbers: the numbers to describe
    """
    values = [float(n) for n in numbers]
    return {"count": len(values), "mean": statistics.fmean(values), "median": statistics.median(values),
            "stdev": statistics.stdev(values) if len(values) > 1 else 0.0, "min": min(values), "max": max(values)}
