"""ImageMaskExampleGen's driver: TFX's FileBasedDriver with a fingerprint of every file of the dataset.

TFX's FileBasedDriver fingerprints the files its split patterns match (count,
bytes, mtimes in seconds); a dataset's files sit at any depth (COCO keeps
images in images/<subset>/a/b.jpg), so this one fingerprints every file under
`input_base` instead: what ingestion can read. A changed photo anywhere gives a
new fingerprint, and TFX reruns the component instead of serving the cache.
"""

from __future__ import annotations

from collections.abc import Iterable

from tfx.components.example_gen import driver, input_processor
from tfx.proto import example_gen_pb2, range_config_pb2

from storage import fileio


class _DatasetInputProcessor(input_processor.FileBasedInputProcessor):
    def get_input_fingerprint(self, span: int, version: int | None) -> str | None:
        return f"dataset:{self._input_base_uri},{fileio.tree_fingerprint(self._input_base_uri)}"


class DatasetDriver(driver.FileBasedDriver):
    def get_input_processor(
        self,
        splits: Iterable[example_gen_pb2.Input.Split],
        range_config: range_config_pb2.RangeConfig | None = None,
        input_base_uri: str | None = None,
    ) -> input_processor.InputProcessor:
        return _DatasetInputProcessor(input_base_uri, splits, range_config)
