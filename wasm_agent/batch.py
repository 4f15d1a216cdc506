"""Run an agent over a task set: one fresh agent per task, several at once, results in task order.

    >>> from wasm_agent import CodeAgent, ScriptedModel
    >>> from wasm_agent.batch import run_tasks
    >>> def make_agent():
    ...     return CodeAgent([], ScriptedModel(["<code>final_answer(6 * 7)</code>"]), executor_type="inprocess",
    ...                      verbosity_level=0)
    >>> [result.output for result in run_tasks(make_agent, ["a", "b"], workers=2)]
    [42, 42]

Locally the work goes to a thread pool (`concurrent.futures`); the agents' sandboxes come
from the process's pool (`wasm_agent.configure_sandboxes`), so `workers` need not exceed its
`max_workers`. Any `concurrent.futures.Executor` can run the tasks instead (`executor=`), such
as a process pool, or a Dask cluster's `client.get_executor()`. Engines with a `map` of their
own (Ray's `ray.util.multiprocessing.Pool`) map `run_task` over `functools.partial`; see
docs/sandboxes.md. A task that fails is recorded in its result (`error`), never raised for all.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import platform


@dataclasses.dataclass
class TaskResult:
    """What one task gave: its answer, or the error that ended it (`ok` says which)."""

    index: int
    task: str
    output: Any = None
    state: str | None = None        # the run's end: "success", "max_steps_error", "interrupted"…
    error: str | None = None        # "ErrorType: message" when the task raised
    steps: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.state == "success"


Task = str | Mapping[str, Any]   # a task's text, or {"task": text, **arguments of `arun`}


def run_task(make_agent: Callable[[], Any], task: Task, index: int = 0) -> TaskResult:
    """Run one task in a new agent from `make_agent()` and close it; never raises (the error is kept).

    A top-level function, so engines that pickle their work (process pools, Ray, Dask) can send it.
    """
    arguments = dict(task) if isinstance(task, Mapping) else {"task": task}
    text = str(arguments.get("task"))
    started = time.perf_counter()
    result = TaskResult(index=index, task=text)
    try:
        agent = make_agent()
        try:
            run = platform.block_on(agent.arun(**arguments, return_full_result=True))
            result.output, result.state = run.output, run.state
            result.steps = len(getattr(agent.memory, "action_steps", ()))
        finally:
            platform.block_on(agent.close())
    except Exception as error:  # noqa: BLE001 - one task's failure is its result, not the batch's
        result.error = f"{type(error).__name__}: {error}"
        result.state = result.state or "error"
    result.seconds = time.perf_counter() - started
    return result


def run_tasks(make_agent: Callable[[], Any], tasks: Iterable[Task], *, workers: int = 4,
              executor: concurrent.futures.Executor | None = None,
              on_result: Callable[[TaskResult, int, int], None] | None = None) -> list[TaskResult]:
    """Run every task in its own agent, `workers` at a time; returns the results in task order.

    `on_result(result, done, total)` is called as each task ends (in completion order), e.g. to
    show progress. `executor` replaces the local thread pool (it must accept `submit`).
    """
    tasks = list(tasks)
    if workers < 1:
        raise ValueError("workers must be at least 1")
    own = executor is None
    pool = executor or concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wasm-agent-task")
    results: list[TaskResult | None] = [None] * len(tasks)
    try:
        futures = {pool.submit(run_task, make_agent, task, index): index for index, task in enumerate(tasks)}
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            index = futures[future]
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 - the engine lost the task (a worker died…)
                result = TaskResult(index=index, task=str(tasks[index]), state="error",
                                    error=f"{type(error).__name__}: {error}")
            results[index] = result
            if on_result is not None:
                on_result(result, done, len(tasks))
    finally:
        if own:
            pool.shutdown(wait=True)
    return results
