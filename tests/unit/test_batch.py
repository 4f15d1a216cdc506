"""Batch runs: one agent per task, several at once, results in task order, failures recorded."""

import concurrent.futures
import os
import re
import threading

import pytest

from wasm_agent import CodeAgent, ScriptedModel
from wasm_agent.batch import TaskResult, run_task, run_tasks

pytestmark = pytest.mark.cpython_only


def answer_with_the_number(messages):
    """Reads 'number N' in the task; fails the model call for 13, loops forever for 7 (max steps)."""
    n = int(re.search(r"number (\d+)", " ".join(str(m.content) for m in messages[1:])).group(1))
    if n == 13:
        raise ConnectionError("the provider is down")
    if n == 7:
        return "<code>print('thinking')</code>"
    return f"<code>final_answer({n} * 2)</code>"


def make_agent():
    return CodeAgent([], ScriptedModel([answer_with_the_number] * 3), executor_type="inprocess",
                     verbosity_level=0, max_steps=2)


def test_results_come_in_task_order_and_a_failure_is_recorded_not_raised():
    tasks = [f"number {n}" for n in (1, 13, 2, 7, 3, 4)]
    seen = []
    results = run_tasks(make_agent, tasks, workers=3, on_result=lambda r, done, total: seen.append((done, total)))
    assert [r.task for r in results] == tasks and [r.index for r in results] == list(range(6))
    assert [r.output for r in results if r.ok] == [2, 4, 6, 8]
    failed = results[1]
    assert not failed.ok and failed.state == "error" and "the provider is down" in failed.error
    assert results[3].state == "max_steps_error" and results[3].error is None and not results[3].ok
    assert sorted(seen) == [(i, 6) for i in range(1, 7)]


def test_a_task_whose_agent_cannot_be_made_is_recorded():
    def broken():
        raise ValueError("no model configured")

    (result,) = run_tasks(broken, ["anything"], workers=1)
    assert result.error == "ValueError: no model configured" and result.output is None


def test_tasks_may_carry_run_arguments():
    def make():
        return CodeAgent([], ScriptedModel(["<code>final_answer(x + 1)</code>"]), executor_type="inprocess",
                         verbosity_level=0)

    result = run_task(make, {"task": "add one to x", "additional_args": {"x": 41}})
    assert (result.output, result.steps, result.ok) == (42, 1, True)


def test_runs_go_to_a_given_executor_and_at_most_workers_at_once():
    running, most = 0, 0
    lock = threading.Lock()

    def counted(messages):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        import time
        time.sleep(0.05)
        with lock:
            running -= 1
        return "<code>final_answer('done')</code>"

    def make():
        return CodeAgent([], ScriptedModel([counted]), executor_type="inprocess", verbosity_level=0)

    assert [r.output for r in run_tasks(make, ["t"] * 8, workers=2)] == ["done"] * 8
    assert most == 2
    with concurrent.futures.ThreadPoolExecutor(4) as executor:
        results = run_tasks(make, ["t"] * 4, executor=executor)
    assert all(isinstance(r, TaskResult) and r.ok for r in results)


def test_a_dask_cluster_runs_the_tasks_in_its_worker_processes():
    import functools

    distributed = pytest.importorskip("distributed")
    # Pickled by reference to importable names, as an engine's worker processes need.
    make = functools.partial(CodeAgent, [], ScriptedModel(["<code>import os\nfinal_answer(os.getpid())</code>"]),
                             executor_type="inprocess", additional_authorized_imports=["os"], verbosity_level=0)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        results = run_tasks(make, [f"task {i}" for i in range(4)], executor=client.get_executor())
    assert [r.task for r in results] == [f"task {i}" for i in range(4)] and all(r.ok for r in results)
    assert os.getpid() not in {r.output for r in results}  # the workers' processes answered, not this one
