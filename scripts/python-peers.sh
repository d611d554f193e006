#!/usr/bin/env bash
# Installs the independent Thrift implementations used as interop peers (thriftpy2 and
# Apache's `thrift` Python library, from PyPI) into ./.venv. Idempotent and quick when they
# are already there. Prints the venv's python path.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
requirements="$root/scripts/python-peers.txt"
marker="$venv/.ringrpc-peers"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if [ ! -f "$marker" ] || ! cmp -s "$requirements" "$marker"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$marker"
fi
"$venv/bin/python" -c "import thriftpy2, thrift" \
    || { echo "python-peers: the peers did not import from $venv" >&2; exit 1; }
echo "$venv/bin/python"
