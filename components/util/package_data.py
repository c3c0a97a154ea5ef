"""The package's data files (the training configs, the curated schema), found in the working tree and in the
installed package alike (setup.py's package_data)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def package_file(*parts: str) -> Path:
    """components/<parts...>: package_file("trainer", "configs")."""
    return Path(str(resources.files("components").joinpath(*parts)))
