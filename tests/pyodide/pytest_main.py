"""Runs inside Pyodide, entered by run.mjs through runPythonAsync.

Globals given by run.mjs: `wheels` (paths in the Pyodide filesystem), `repo`
(the repo, mounted at its host path) and `args` (pytest's arguments).
Sets `exit_code`.
"""

import importlib
import os
import site
import sys
import zipfile


def install(wheel_paths):
    """Unpack pure-Python wheels into site-packages: all that installing them means here."""
    target = site.getsitepackages()[0]
    for path in wheel_paths:
        with zipfile.ZipFile(path) as wheel:
            wheel.extractall(target)
    importlib.invalidate_caches()
    return target


def run_pytest(repo, args, site_packages):
    os.chdir(repo)
    # Like `python -c`, Pyodide puts "" (the cwd, now the repo) first on sys.path:
    # the wheel is what is tested, not the sources of the mounted repo.
    sys.path[:] = [entry for entry in sys.path if entry not in ("", ".", repo)]
    # The repo is the host's folder: leave no Pyodide .pyc files or pytest cache in it.
    sys.dont_write_bytecode = True
    # Import before pytest puts tests/ on sys.path: there the folder tests/js
    # would shadow Pyodide's `js` module as a namespace package.
    import js  # noqa: F401
    import pyodide
    import pyodide_js  # noqa: F401
    import pytest
    import wasm_agent

    (location,) = wasm_agent.__path__
    if not location.startswith(site_packages):
        raise RuntimeError(f"wasm_agent was imported from {location}, not from its wheel")
    print(f"pyodide {pyodide.__version__}, Python {sys.version.split()[0]}, wasm_agent from {location}", flush=True)
    return int(pytest.main(["-p", "no:cacheprovider", *args]))


site_packages = install(wheels)  # noqa: F821 (given by run.mjs)
exit_code = run_pytest(repo, args, site_packages)  # noqa: F821
