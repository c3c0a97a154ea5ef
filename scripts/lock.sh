#!/usr/bin/env bash
# Regenerates requirements/{cpu,gpu,dev}.lock from requirements/*.in for the image's
# platform (Debian 13: Python 3.13, glibc 2.41). Runs uv from a throwaway venv.
# dev.lock: the development tools (ruff), installed in a layer of their own.
set -euo pipefail
cd "$(dirname "$0")/../requirements"
tools=${TMPDIR:-/tmp}/maskrcnn-tfx-uv
[ -x "$tools/bin/uv" ] || { python3 -m venv "$tools" && "$tools/bin/pip" install -q uv; }
for name in cpu gpu dev; do
  overrides=()
  [ -e "overrides-$name.txt" ] && overrides=(--overrides "overrides-$name.txt")
  "$tools/bin/uv" pip compile "$name.in" "${overrides[@]}" \
    --python-version 3.13 --python-platform x86_64-manylinux_2_39 \
    --quiet -o "$name.lock"
  echo "requirements/$name.lock: $(grep -c '^[a-z]' "$name.lock") packages"
done
