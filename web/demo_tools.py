"""Python tools of the site's demo: they run in the agent worker, and the model's code calls them
from the sandbox like any function. (A page gives its own with createAgent({pythonTools: [source]}).)"""

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
