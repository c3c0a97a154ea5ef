#!/usr/bin/env bash
# Regenerates requirements/{cpu,gpu}.lock from requirements/*.in for the image's
# platform (Debian 13: Python 3.13, glibc 2.41). Runs uv from a throwaway venv.
set -euo pipefail
cd "$(dirname "$0")/../requirements"
tools=${TMPDIR:-/tmp}/maskrcnn-tfx-uv
[ -x "$tools/bin/uv" ] || { python3 -m venv "$tools" && "$tools/bin/pip" install -q uv; }
for variant in cpu gpu; do
  "$tools/bin/uv" pip compile "$variant.in" --overrides "overrides-$variant.txt" \
    --python-version 3.13 --python-platform x86_64-manylinux_2_39 \
    --quiet -o "$variant.lock"
  echo "requirements/$variant.lock: $(grep -c '^[a-z]' "$variant.lock") packages"
done
