"""The dataset formats ingestion reads. Each module of this package is one format and registers its one
`DatasetFormat` (registry.py): name, help, detection from a folder (`--format auto`), listing, conversion of one
input to the common record (records.Converted) and, where it has one, the sample writer. This module imports them
all: a new format is a module here. `--format`, detection, planning, conversion and `sample-data --format` read
FORMATS.
"""

from __future__ import annotations

import importlib
import pkgutil

from dataset.formats import registry
from dataset.records import IngestError

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

FORMATS: dict[str, registry.DatasetFormat] = registry.registered()
AUTO = "auto"  # whichever format the folder looks like
CHOICES = (AUTO, *FORMATS)  # --format's


def choices_help() -> str:
    """--format's help: what each choice reads."""
    return "; ".join(
        [f"{AUTO}: the one format the folder looks like"] + [f"{f.name}: {f.help}" for f in FORMATS.values()]
    )


def detect(dataset_dir: str) -> str:
    """The one format a dataset folder looks like, or an IngestError saying which it looks like or could be."""
    matches = [f for f in FORMATS.values() if f.looks_like(dataset_dir)]
    if len(matches) > 1:
        raise IngestError(
            f"{dataset_dir}: holds both {' and '.join(f.help for f in matches)}; pass "
            + " or ".join(f"--format {f.name}" for f in matches)
        )
    if not matches:
        raise IngestError(f"{dataset_dir}: neither {' nor '.join(f.help for f in FORMATS.values())}")
    return matches[0].name
