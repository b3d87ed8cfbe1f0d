#!/usr/bin/env bash
# Installs desclm (editable) with the pinned dependencies into the venv of PYTHON: with uv, else pip.
#   scripts/install_venv.sh .venv/bin/python        (make venv runs this)
# uv installs the same pins (constraints.txt) about three times faster than pip, unpacking and compiling
# in parallel: measured on the 2-core machine, 50 s with an empty uv cache and 33 s with a warm one, pip
# 148 s. uv does not read pip's configuration, so pip's indexes, find-links, constraints and certificate
# (from its files and PIP_* variables) are passed on; where uv cannot be installed or fails, pip installs.
set -euo pipefail
python=$1
sources=()
while IFS= read -r line; do
  key=${line%%=*}
  key=${key##*.}
  value=${line#*=}
  value=${value#\'}
  value=${value%\'}
  case $key in
    index-url | extra-index-url | find-links | constraint)
      for item in $value; do sources+=("--$key" "$item"); done ;;
    cert) export SSL_CERT_FILE=$value ;;
  esac
done < <("$python" -m pip config list 2>/dev/null)
pip_install=("$python" -m pip install --quiet --disable-pip-version-check -c constraints.txt)
if "${pip_install[@]}" uv &&
  "$python" -m uv pip install --python "$python" --quiet --compile-bytecode --index-strategy unsafe-best-match \
    "${sources[@]}" -c constraints.txt -e ".[dev,ray]"; then
  exit 0
fi
echo "uv could not install the environment: installing with pip instead" >&2
"${pip_install[@]}" -e ".[dev,ray]"
