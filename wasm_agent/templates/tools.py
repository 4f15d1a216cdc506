"""Python tools of the site's agent. Each top-level @tool function becomes a tool: it runs in the
agent worker (Pyodide in the visitor's tab), and the model's code calls it like a function.
Type hints and the Args section of the docstring are the tool's schema."""

METRES = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "in": 0.0254, "ft": 0.3048, "mi": 1609.344}


@tool
def convert_length(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a length between units: mm, cm, m, km, in, ft, mi.

    Args:
        value: the length in `from_unit`
        from_unit: the unit of `value`
        to_unit: the unit of the result
    """
    if from_unit not in METRES or to_unit not in METRES:
        raise ValueError(f"units must be among {', '.join(METRES)}")
    return value * METRES[from_unit] / METRES[to_unit]
