"""The terminal shows the project's lines: TensorFlow's C++ start-up lines and the known library warnings are
kept off it (pipeline/quiet.py), and VERBOSE=1 shows everything."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO

# A command that loads TensorFlow and Model Garden, then fails on its input: what a user sees.
COMMAND = [sys.executable, "-m", "pipeline.cli", "predict", "--model", "/no/such/model", "--output", "/tmp/x", "a.jpg"]


def _stderr(**env) -> list[str]:
    done = subprocess.run(COMMAND, cwd=REPO, capture_output=True, text=True, env={**os.environ, **env})
    assert done.returncode == 1
    return done.stderr.splitlines()


def test_tensorflows_start_up_lines_are_kept_off_the_terminal_and_verbose_shows_them():
    quiet, verbose = _stderr(VERBOSE="0"), _stderr(VERBOSE="1")
    assert any("port.cc" in line or "absl::InitializeLog" in line for line in verbose)  # TensorFlow said them
    assert quiet == [
        "predict: /no/such/model: no SavedModel here (expected saved_model.pb, Format-Serving/ or "
        "numbered versions of a serving folder)"
    ]
