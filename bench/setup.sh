#!/usr/bin/env bash
# Creates bench/.venv-smolagents with the baseline (smolagents 1.26.0) once;
# a second call only checks that it is there. The venv uses the same Python
# as the one running the bench ($PYTHON, else `python3`), so both sides run on
# the same interpreter version.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-smolagents"
python="${PYTHON:-python3}"
version=1.26.0

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "
import sys, importlib.metadata as m
want = tuple(int(p) for p in sys.argv[1].split('.'))
sys.exit(not (m.version('smolagents') == '$version' and sys.version_info[:2] == want))
" "$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" 2>/dev/null; then
    exit 0
fi

rm -rf "$venv"
"$python" -m venv "$venv"
# (pip warns about each package missing from this machine's local indexes; keep the real errors)
"$venv/bin/python" -m pip install --quiet "smolagents==$version" 2> >(grep -v "is ignored: it is neither" >&2)
echo "created $venv ($("$venv/bin/python" -V), smolagents $version)" >&2
