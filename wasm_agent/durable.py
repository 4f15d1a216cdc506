"""Durable runs: each step written to a run store as it ends, and a stopped run resumed.

`DurableRuns` is the part of `MultiStepAgent` that talks to its `run_store`
(files on CPython, IndexedDB in a page). A failed write never stops a run; a
resume rebuilds the memory and, where the agent can, the code's state.
"""

from __future__ import annotations

import contextlib
from typing import Any

from . import platform
from .events import RunResult
from .memory import ActionStep, FinalAnswerStep, NoteStep, TaskStep
from .persistence import RunBusyError, RunRecord, RunStoreError


class DurableRuns:
    """Saving and resuming runs, for `MultiStepAgent` (which provides the memory, the store and `arun`)."""

    async def _save(self, status: str, final_step: FinalAnswerStep | None = None) -> None:
        """Write the steps the store does not have yet (and the final answer), and the run's status.

        A write that fails (quota, disk full, an aborted transaction) does not stop the run: it goes
        on unsaved, marked "error" in the store if that still works, and `save_error` says why.
        """
        if self.run_store is None or self.save_error is not None:
            return
        try:
            await self._write_steps(status, final_step)
        except RunBusyError:
            raise
        except Exception as error:
            self.save_error = str(error) if isinstance(error, RunStoreError) else f"{type(error).__name__}: {error}"
            if self.run_id is not None:
                with contextlib.suppress(Exception):
                    await self.run_store.update_run(self.run_id, status="error")

    async def _write_steps(self, status: str, final_step: FinalAnswerStep | None) -> None:
        store = self.run_store
        if self.run_id is None:
            record = RunRecord(id=RunRecord.new_id(), title=_title(self.task),
                               system_prompt=self.memory.system_prompt.system_prompt,
                               examples=self.memory.system_prompt.examples,
                               model_id=getattr(self.model, "model_id", None))
            await store.create_run(record)
            self.run_id, self._saved_steps = record.id, 0
        for step in self.memory.steps[self._saved_steps:]:
            await store.append_step(self.run_id, step.to_dict())
        self._saved_steps = len(self.memory.steps)
        if final_step is not None:
            await store.append_step(self.run_id, final_step.to_dict())
        await store.update_run(self.run_id, status=status, steps=len(self.memory.action_steps))

    async def aresume(self, run_id: str, *, replay: bool | None = None, max_steps: int | None = None,
                      return_full_result: bool | None = None) -> Any:
        """Continue a saved run from its last finished step (after a crash, a reload, a stop).

        A CodeAgent rebuilds its code state by running the earlier steps' code
        again, with tools answered from their recorded outputs (no tool is
        called twice); what cannot be rebuilt, the model is told plainly.
        `replay` says whether to run that code: by default yes for a run this
        store made, no for an imported one (its code is untrusted input), and
        then the model is told that earlier variables are not defined.
        A run that succeeded returns its answer again; one stopped by its user or by the step limit
        goes on from where it stopped.

            agent.resume(run_id, replay=True)   # the user has read the file and agrees to run its code
        """
        if self.run_store is None:
            raise ValueError("resume needs a run store: CodeAgent(..., run_store=FileRunStore(folder))")
        record, memory = await self.run_store.load_memory(run_id)
        if memory.steps and isinstance(memory.steps[-1], FinalAnswerStep):
            if record.status not in ("interrupted", "max_steps_error"):
                self.last_result = RunResult(output=memory.steps[-1].output, state=record.status)
                return self.last_result if return_full_result else self.last_result.output
            memory.steps.pop()  # stopped by its user or the step limit: it goes on (the saved log keeps the end)
        self.memory, self.run_id, self._saved_steps = memory, run_id, len(memory.steps)
        self.task = next(step.task for step in reversed(memory.steps) if isinstance(step, TaskStep))
        self.step_number = max((step.step_number for step in memory.action_steps), default=0) + 1
        if replay is None:
            replay = not record.imported
        note = await self._restore_state(memory.action_steps, replay=replay, imported=record.imported)
        if note:
            memory.steps.append(NoteStep(f"This run was resumed after it stopped at step {self.step_number - 1}. "
                                         + note))
        return await self.arun(None, reset=False, max_steps=max_steps, return_full_result=return_full_result)

    async def _restore_state(self, steps: list[ActionStep], *, replay: bool, imported: bool) -> str | None:
        """Rebuild what earlier steps left behind (only if `replay`); returns what the model must be told."""
        return None

    def resume(self, run_id: str, **kwargs: Any) -> Any:
        """Synchronous `aresume`."""
        return platform.block_on(self.aresume(run_id, **kwargs))


def _title(task: str | None) -> str:
    line = (task or "").strip().splitlines()[0] if (task or "").strip() else "Untitled run"
    return line if len(line) <= 80 else line[:79] + "…"
