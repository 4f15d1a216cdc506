"""smolagents' own agent-loop tests, run against wasm_agent with only the import changed.

    python tests/smolagents/run.py               # run, compare with the checked-in lists
    python tests/smolagents/run.py -k memory     # extra arguments go to pytest (no comparison)
    python tests/smolagents/run.py --reference   # run on real smolagents; rewrite passing_on_smolagents.txt

1. Downloads smolagents' sdist from PyPI once (`pip download --no-binary`), into .cache/smolagents/.
2. Copies the agent-loop test modules out of it and renames the package they import
   (`smolagents` → `wasm_agent`, submodules as MODULE_MAP says; nothing else changes), next to
   the conftest and fixtures they need (support/: the sdist ships none).
3. Runs them with pytest (the default executor: the WASM sandbox) and compares with
   expected_failures.txt (test id, two spaces, `# ` and why) and passing_on_smolagents.txt
   (the tests that pass on smolagents itself, measured with --reference). It fails on an
   unexpected failure and on a listed failure that now passes, and prints the pass rate.

The reference run uses a separate venv (.cache/smolagents-venv) with smolagents installed:
smolagents is never a dependency of wasm_agent or of its tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = REPO / ".cache" / "smolagents"
VERSION = "1.26.0"
MODULES = ["test_agents", "test_memory", "test_tools", "test_final_answer", "test_monitoring"]
# Where each smolagents module's public names live in wasm_agent (docs/smolagents.md, "Imports").
MODULE_MAP = {
    "smolagents.agents": "wasm_agent",
    "smolagents.agent_types": "wasm_agent.agent_types",
    "smolagents.default_tools": "wasm_agent.tools",
    "smolagents.memory": "wasm_agent.memory",
    "smolagents.models": "wasm_agent.models",
    "smolagents.monitoring": "wasm_agent.monitoring",
    "smolagents.tools": "wasm_agent.tools",
    "smolagents.utils": "wasm_agent",
    "smolagents": "wasm_agent",
}
# What the tests import besides the package under test (installed with pip when missing).
REQUIREMENTS = HERE / "requirements.txt"
REFERENCE_VENV = REPO / ".cache" / "smolagents-venv"
EXPECTED = HERE / "expected_failures.txt"
REFERENCE = HERE / "passing_on_smolagents.txt"


def main(argv: list[str]) -> int:
    reference = "--reference" in argv
    pytest_args = [arg for arg in argv if arg != "--reference"]
    sources = unpack_sdist()
    work = CACHE / ("work-reference" if reference else "work")
    write_tests(sources, work / "tests", rename=not reference)
    python = reference_python() if reference else sys.executable
    if not reference:
        install_requirements(python)
    started = time.monotonic()
    outcomes = run_pytest(python, work, pytest_args)
    seconds = time.monotonic() - started
    if pytest_args:  # a partial run: show pytest's own output only
        return 0 if all(o["outcome"] != "failed" for o in outcomes.values()) else 1
    if reference:
        passing = sorted(test for test, o in outcomes.items() if o["outcome"] == "passed")
        REFERENCE.write_text("".join(f"{test}\n" for test in passing))
        print(f"smolagents {VERSION}: {len(passing)} of {len(outcomes)} tests pass ({seconds:.0f} s); "
              f"wrote {REFERENCE.relative_to(REPO)}")
        return 0
    return compare(outcomes, seconds)


def unpack_sdist() -> Path:
    """smolagents' sdist from PyPI, unpacked once; returns its tests/ folder."""
    folder = CACHE / f"smolagents-{VERSION}"
    if not (folder / "tests").is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        archive = CACHE / f"smolagents-{VERSION}.tar.gz"
        if not archive.exists():
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                            f"smolagents=={VERSION}", "-d", str(CACHE)], check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(CACHE, filter="data")
    return folder / "tests"


def write_tests(sources: Path, target: Path, *, rename: bool) -> None:
    """The test modules and their support files, in a package `tests` (they import each other relatively)."""
    shutil.rmtree(target, ignore_errors=True)
    (target / "utils").mkdir(parents=True)
    files = {f"{name}.py": sources / f"{name}.py" for name in MODULES}
    files.update({"conftest.py": HERE / "support" / "conftest.py",
                  "utils/markers.py": HERE / "support" / "utils" / "markers.py"})
    for relative, source in files.items():
        text = source.read_text(encoding="utf-8")
        (target / relative).write_text(rename_package(text) if rename else text, encoding="utf-8")
    for package in (target, target / "utils"):
        (package / "__init__.py").write_text("")


_MODULE_NAME = re.compile(r"\bsmolagents(?:\.(?:agents|agent_types|default_tools|memory|models|monitoring|tools|utils)"
                          r"\b)?(?![\w-])")


def rename_package(text: str) -> str:
    """Every reference to a smolagents module (imports, `patch("smolagents.x.y")`) names wasm_agent's.

    >>> rename_package("from smolagents.agents import CodeAgent; patch('smolagents.models.REGISTRY')")
    "from wasm_agent import CodeAgent; patch('wasm_agent.models.REGISTRY')"
    """
    return _MODULE_NAME.sub(lambda match: MODULE_MAP[match.group(0)], text)


def install_requirements(python: str) -> None:
    """The test modules' own imports (numpy, PIL, rich, mcp, huggingface_hub), once per environment."""
    probe = "import numpy, PIL, rich, mcp, huggingface_hub"
    if subprocess.run([python, "-c", probe], capture_output=True).returncode != 0:
        subprocess.run([python, "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)


def reference_python() -> str:
    """The Python of a venv that has smolagents and the tests' requirements (made once)."""
    python = REFERENCE_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(REFERENCE_VENV)], check=True)
        # With the extras some tests use (openai, pandas), so that the measure counts them.
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"smolagents=={VERSION}", "openai", "pandas",
                        "pytest", "-r", str(REQUIREMENTS)], check=True)
    return str(python)


def run_pytest(python: str, work: Path, pytest_args: list[str]) -> dict[str, dict]:
    results = work / "outcomes.json"
    results.unlink(missing_ok=True)
    env = {**os.environ, "SMOLAGENTS_OUTCOMES": str(results), "PYTHONPATH": str(HERE),
           "PYTHONDONTWRITEBYTECODE": "1"}
    paths = [] if any(arg.startswith("tests") for arg in pytest_args) else ["tests"]
    command = [python, "-m", "pytest", *paths, "-p", "outcomes", "-p", "no:cacheprovider", "-q",
               "--rootdir", str(work), "-c", os.devnull, "-W", "ignore::DeprecationWarning"]
    if not pytest_args:
        command += ["--tb=no", "-o", "console_output_style=classic"]
    subprocess.run(command + pytest_args, cwd=work, env=env)
    if not results.exists():
        sys.exit("run.py: pytest wrote no outcomes (see its output above)")
    return {test.removeprefix("tests/"): outcome for test, outcome in json.loads(results.read_text()).items()}


def read_expected() -> dict[str, str]:
    """{test id: reason} from expected_failures.txt (`id  # reason`; blank lines and `#` lines skipped)."""
    expected = {}
    for number, line in enumerate(EXPECTED.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        test, sep, reason = line.partition("  # ")
        if not sep or not reason.strip():
            sys.exit(f"{EXPECTED.name}:{number}: write `test id  # reason`")
        expected[test.strip()] = reason.strip()
    return expected


def compare(outcomes: dict[str, dict], seconds: float) -> int:
    reference = [line for line in REFERENCE.read_text().splitlines() if line]
    expected = read_expected()
    passed = [test for test in reference if outcomes.get(test, {}).get("outcome") == "passed"]
    unexpected = [test for test in reference if test not in expected and test not in passed]
    now_passing = [test for test in expected if test in passed]
    stale = [test for test in expected if test not in reference]
    for test in unexpected:
        message = outcomes.get(test, {}).get("message") or "not run (its module failed to import?)"
        print(f"UNEXPECTED FAILURE  {test}\n    {message}")
    for test in now_passing:
        print(f"NOW PASSES (remove it from {EXPECTED.name})  {test}")
    for test in stale:
        print(f"NOT A TEST THAT PASSES ON SMOLAGENTS (remove it from {EXPECTED.name})  {test}")
    share = 100 * len(passed) / len(reference)
    also = sum(o["outcome"] == "failed" for test, o in outcomes.items() if test not in reference)
    print(f"\nsmolagents {VERSION} agent-loop tests on wasm_agent: {len(passed)} of the {len(reference)} that pass "
          f"on smolagents pass here ({share:.1f}%); {len(expected)} expected failures listed; {also} other "
          f"failures are of tests that fail on smolagents too; {seconds:.0f} s")
    return 1 if unexpected or now_passing or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
