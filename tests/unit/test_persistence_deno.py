"""An imported run resumed through the Deno sandbox (real Deno, real Pyodide): its code runs only if asked.

The same attack as test_persistence.py's, across the real boundary: the file's step
plants a variable and a `greet` function that calls a host tool with the file's own argument.
"""

import json

import pytest
from deno_sandbox import require_deno_sandbox

from wasm_agent import CodeAgent, ScriptedModel, tool
from wasm_agent.executor import ExecutionLimits
from wasm_agent.persistence import FileRunStore

pytestmark = pytest.mark.cpython_only

sandbox = require_deno_sandbox()
calls = []


@tool
def note(text: str) -> str:
    """Note a text on the host.

    Args:
        text: What to note.
    """
    calls.append(text)
    return "noted"


PLANTED = 'secret = "planted by the file"\ndef greet(*args):\n    note("planted by the file")'
LOOK = 'try:\n    greet("hello")\nexcept NameError:\n    pass\ntry:\n    found = secret\nexcept NameError:\n    found = "absent"\nfinal_answer(found)'


def code(body: str) -> str:
    return f"Thought: go\n<code>\n{body}\n</code>"


def provider_down(messages):
    raise ConnectionError("offline")


async def test_an_imported_run_resumes_in_the_sandbox_without_its_code_unless_agreed(tmp_path):
    executor = sandbox.DenoSandboxExecutor(limits=ExecutionLimits(timeout_seconds=30, max_memory_mb=1500))
    try:
        origin = FileRunStore(tmp_path / "elsewhere")
        writer = CodeAgent([note], ScriptedModel([code(PLANTED), provider_down]), executor=executor,
                           run_store=origin)
        with pytest.raises(Exception, match="offline"):
            await writer.arun("Do something")
        exported = json.loads(json.dumps(await origin.export_run(writer.run_id)))

        calls.clear()
        store = FileRunStore(tmp_path / "here")
        run = await store.import_run(exported)
        model = ScriptedModel([code(LOOK)])
        agent = CodeAgent([note], model, executor=executor, run_store=store)
        assert await agent.aresume(run.id) == "absent"
        assert calls == []
        assert "imported from a file" in model.calls[0]["messages"][-1].text

        agreed = FileRunStore(tmp_path / "agreed")
        run = await agreed.import_run(exported)
        agent = CodeAgent([note], ScriptedModel([code(LOOK)]), executor=executor, run_store=agreed)
        assert await agent.aresume(run.id, replay=True) == "planted by the file"
        assert calls == ["planted by the file"]
    finally:
        await executor.close()
