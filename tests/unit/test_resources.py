"""wasm_agent.resources in a checkout: the repository's own folders, and build/ as the site builder.
(The installed wheel's side is tests/e2e/test_install.py: the same calls, from an install.)"""

import pytest

from wasm_agent import resources

pytestmark = pytest.mark.cpython_only


def test_a_checkout_finds_the_repository_folders():
    assert resources.CHECKOUT == resources.PACKAGE_DIR.parent
    assert (resources.web_dir() / "sandbox" / "core.js").is_file()
    assert (resources.deno_dir() / "sandbox_host.js").is_file()
    assert resources.pyodide_dir() == resources.CHECKOUT / "node_modules" / "pyodide"
    assert resources.site_wheel() is None  # a checkout builds it from the sources
    assert resources.cache_dir("site") == resources.CHECKOUT / ".cache" / "site"
    assert resources.default_site_dir() == resources.CHECKOUT / "dist"


def test_the_site_builder_and_the_sandbox_use_these_folders():
    site = resources.site_builder("site")
    from wasm_agent.executor import sandbox_launch

    assert site.WEB == resources.web_dir() and site.PYODIDE == resources.pyodide_dir()
    assert sandbox_launch.HOST_SCRIPT.parent == resources.deno_dir()
    assert all(path.is_file() for path in sandbox_launch.JS_FILES)
