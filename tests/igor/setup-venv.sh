#!/usr/bin/env bash
# Creates tests/igor-venv: Python 3.11 with a real Igor (igor-iot 0.99.1, the
# newest on PyPI) and the pins it needs to run on Python 3.11. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../igor-venv"
if [ -x "$venv/bin/igorServer" ] && "$venv/bin/python" -c 'import igor' 2>/dev/null; then
    exit 0
fi
python=""
for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        python="$candidate"
        break
    fi
done
if [ -z "$python" ]; then
    echo "setup-venv: Python 3.11 is needed (Igor 0.99.1 uses the imp module, gone in 3.12)" >&2
    exit 1
fi
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    'igor-iot==0.99.1' 'flask==2.2.5' 'werkzeug==2.2.3' 'pyjwt<2' \
    'fitbit==0.3.1' 'requests-oauthlib<2' 'oauthlib<4'
"$venv/bin/python" -c 'import igor' 
echo "setup-venv: Igor installed in $venv"
