"""Tools every agent has."""

from __future__ import annotations

from typing import Any

from .base import Tool


class FinalAnswerTool(Tool):
    """Ends the run with the given answer. Every agent has it as `final_answer`."""

    name = "final_answer"
    description = "Provides a final answer to the given problem."
    inputs = {"answer": {"type": "any", "description": "The final answer to the problem"}}
    output_type = "any"

    def forward(self, answer: Any) -> Any:
        return answer
