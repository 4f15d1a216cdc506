"""Tools that several test files give their agents."""

import asyncio

from wasm_agent import tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first integer.
        b: The second integer.
    """
    return a + b


@tool
def divide(a: float, b: float) -> float:
    """Divide a by b.

    Args:
        a: Numerator.
        b: Denominator.
    """
    return a / b


@tool
async def wait_long(seconds: float) -> str:
    """Sleep on the host, asynchronously.

    Args:
        seconds: How long.
    """
    await asyncio.sleep(seconds)
    return "woke"
