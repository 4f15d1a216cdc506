"""Tools that hand out a `Badge` and trust the one they get back: what the forged-class attack tests aim at.

The CPython tests import them (tests/unit/test_wire_values_agents.py); the browser tests give this file to a
page's agents as their Python tools (tests/e2e/test_site.py), where their module is `wasm_agent_page_tools`.
"""

from typing import Any

from wasm_agent import tool


class Badge:
    """A class of the host whose method a host tool trusts."""

    def __init__(self, holder, clearance):
        self.holder, self.clearance = holder, clearance

    def may_open(self):
        return self.clearance >= 5


@tool
def issue_badge(holder: str) -> Any:
    """Issue a badge of the lowest clearance.

    Args:
        holder: Who holds it.
    """
    return Badge(holder, 1)


@tool
def open_vault(badge: Any) -> str:
    """Open the vault with a badge, if its clearance allows.

    Args:
        badge: The badge.
    """
    may_open = getattr(badge, "may_open", None)
    if not callable(may_open):
        return f"refused: not a badge ({type(badge).__name__})"
    return "opened" if may_open() else f"refused: clearance {badge.clearance}"


def forged_badge_code(module: str, then: str = "final_answer([open_vault(forged), forged])") -> str:
    """Generated code that makes its own Badge under `module` and the host's class name (all the wire
    names a class by), and then does `then` with it."""
    return ("class Badge:\n    def __init__(self, holder, clearance):\n"
            "        self.holder, self.clearance = holder, clearance\n"
            f"Badge.__module__ = {module!r}\nforged = Badge('mallory', 9)\n{then}")
