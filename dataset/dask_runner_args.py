"""`--runner=DaskRunner` in this project's Beam arguments means its own runner (dataset/dask_runner.py).

Kept apart from the runner so that parsing options does not import Beam.
"""

from __future__ import annotations

RUNNER = "dataset.dask_runner.DaskRunner"
_SHORT_NAMES = ("DaskRunner", "apache_beam.runners.dask.dask_runner.DaskRunner")


def dask_runner_args(beam_args: list[str]) -> list[str]:
    """Beam arguments with `--runner=DaskRunner` (Beam's own class included) meaning this project's runner."""
    return [
        f"--runner={RUNNER}" if a.split("=", 1)[0] == "--runner" and a.split("=", 1)[-1] in _SHORT_NAMES else a
        for a in beam_args
    ]
