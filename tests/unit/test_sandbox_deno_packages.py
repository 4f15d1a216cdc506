"""The Deno sandbox installs `additional_authorized_imports` from a folder of wheels and its lock
(as `python -m wasm_agent build --wheel …` writes dist/pyodide), dependencies included."""

import json

import pytest
from deno_sandbox import require_deno_sandbox
from wheel_factory import make_wheel

from wasm_agent.executor.packages import MissingPackageError

pytestmark = pytest.mark.cpython_only

sandbox = require_deno_sandbox()


@pytest.fixture
def wheel_folder(tmp_path):
    from build.lockfile import write_lock

    greet = make_wheel(tmp_path, "wa-greet", requires=["wa-words"],
                       files={"wa_greet/__init__.py": "from wa_words import WORD\n\ndef hello():\n    return WORD + '!'\n"})
    words = make_wheel(tmp_path, "wa-words", files={"wa_words.py": "WORD = 'hello'\n"})
    write_lock(sandbox.DEFAULT_PYODIDE_DIR / "pyodide-lock.json", [greet, words], tmp_path / "pyodide-lock.json")
    return tmp_path


async def test_an_import_and_its_dependency_come_from_the_wheel_folder(wheel_folder):
    executor = sandbox.DenoSandboxExecutor(["wa_greet", "json"], wheels=wheel_folder)
    try:
        first = await executor.run("import wa_greet\nwa_greet.hello()")
        assert (first.error, first.output) == (None, "hello!")
        assert "variables were lost" in (await executor.run("import os\nos._exit(0)")).error
        again = await executor.run("import wa_words\n[wa_words.WORD, '_wasm_agent_wheels' in dir()]")
        assert (again.error, again.output) == (None, ["hello", False])  # the new sandbox has them too
    finally:
        await executor.close()


def test_a_package_the_folder_lacks_fails_at_construction(wheel_folder, tmp_path):
    with pytest.raises(MissingPackageError, match=r"^pandas: no wheel in .* provides it"):
        sandbox.DenoSandboxExecutor(["pandas"], wheels=wheel_folder)
    with pytest.raises(MissingPackageError, match=r"pass its dist/pyodide folder as wheels="):
        sandbox.DenoSandboxExecutor(["wa_greet"])
    lock = json.loads((wheel_folder / "pyodide-lock.json").read_text())
    del lock["packages"]["wa-words"]
    (wheel_folder / "pyodide-lock.json").write_text(json.dumps(lock))
    with pytest.raises(MissingPackageError, match="wa-greet depends on wa-words, which is not in the lock"):
        sandbox.DenoSandboxExecutor(["wa_greet"], wheels=wheel_folder)


def test_a_wheel_that_does_not_match_the_lock_is_refused(wheel_folder):
    (wheel_folder / "wa_words-1.0-py3-none-any.whl").write_bytes(b"tampered")
    with pytest.raises(MissingPackageError, match="does not match the lock file's sha256"):
        sandbox.DenoSandboxExecutor(["wa_greet"], wheels=wheel_folder)
